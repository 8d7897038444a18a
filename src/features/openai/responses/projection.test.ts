import { describe, expect, it } from "vitest";
import type { SequencedEvent } from "../../../runtime/events";
import { type ResponseMeta, ResponseProjection, type StreamEvent } from "./projection";

const meta = (background = false): ResponseMeta => ({
  runId: "run_abc",
  id: "resp_abc",
  createdAt: 1_700_000_000,
  model: "ag_x",
  conversationId: "conv_x",
  instructions: null,
  previousResponseId: null,
  store: true,
  background,
  metadata: {},
});

const done = (stopReason: "end_turn" | "max_iterations" | "error" | "cancelled") => ({
  event: "done" as const,
  data: {
    iterations: 1,
    toolCalls: 0,
    tokens: 3,
    cost: 0,
    conversationId: "conv_x",
    runId: "run_abc",
    inputTokens: 2,
    outputTokens: 1,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    stopReason,
  },
});

const numbered = (events: Array<Omit<SequencedEvent, "seq">>): SequencedEvent[] =>
  events.map((e, i) => ({ ...e, seq: i + 1 }) as SequencedEvent);

function fold(events: SequencedEvent[], background = false): { projection: ResponseProjection; stream: StreamEvent[] } {
  const projection = new ResponseProjection(meta(background));
  const stream = [...projection.opening(), ...events.flatMap((e) => projection.apply(e))];
  return { projection, stream };
}

describe("the Responses projection of a run's events", () => {
  it("is a pure function of the log: the same events give the same stream, numbered 0, 1, 2, …", () => {
    const log = numbered([
      { event: "text", data: { text: "Hi " } },
      { event: "tool_start", data: { tool: "web_search", id: "c1", input: { q: "x" } } },
      { event: "tool_start", data: { tool: "read_url", id: "c2", input: { url: "u" } } },
      { event: "tool_result", data: { tool: "read_url", id: "c2", output: "page", isError: false } },
      { event: "tool_result", data: { tool: "web_search", id: "c1", output: "boom", isError: true } },
      { event: "text", data: { text: "there" } },
      done("end_turn"),
    ]);
    const first = fold(log).stream;
    expect(fold(log).stream).toEqual(first);
    expect(first.map((e) => e.sequence_number)).toEqual(first.map((_, i) => i));
    const { projection } = fold(log);
    // Parallel calls keep the order they started in; each result lands on its own item.
    expect(projection.output.map((i) => [i.type, i.id, i.status])).toEqual([
      ["message", "msg_abc_1", "completed"],
      ["openpaw:tool_call", "tc_abc_2", "completed"],
      ["openpaw:tool_call", "tc_abc_3", "completed"],
      ["message", "msg_abc_6", "completed"],
    ]);
    expect(projection.output[1]).toMatchObject({ call_id: "c1", output: "boom", is_error: true, arguments: '{"q":"x"}' });
    expect(projection.snapshot()).toMatchObject({ status: "completed", usage: { input_tokens: 2, output_tokens: 1, total_tokens: 3 } });
  });

  it("a background run is queued until its first event", () => {
    const { stream } = fold(numbered([{ event: "text", data: { text: "a" } }, done("end_turn")]), true);
    expect(stream.slice(0, 3).map((e) => [e.type, (e.response as { status?: string } | undefined)?.status])).toEqual([
      ["response.created", "queued"],
      ["response.queued", "queued"],
      ["response.in_progress", "in_progress"],
    ]);
    const cancelledWhileQueued = fold(numbered([done("cancelled")]), true);
    expect(cancelledWhileQueued.stream.map((e) => e.type)).toEqual(["response.created", "response.queued", "response.incomplete"]);
    expect(cancelledWhileQueued.projection.snapshot()).toMatchObject({ status: "cancelled", incomplete_details: { reason: "cancelled" } });
  });

  it("a continuation after a crash: the cut message ends incomplete, a settled result without its start still gets an item", () => {
    const { projection, stream } = fold(
      numbered([
        { event: "text", data: { text: "Half an ans" } },
        { event: "resumed", data: { iteration: 1 } },
        { event: "tool_result", data: { tool: "exec", id: "cut", output: "interrupted", isError: true } },
        { event: "text", data: { text: "A whole answer." } },
        done("end_turn"),
      ]),
    );
    expect(projection.output.map((i) => [i.type, i.status])).toEqual([
      ["message", "incomplete"],
      ["openpaw:tool_call", "completed"],
      ["message", "completed"],
    ]);
    expect(stream.find((e) => e.type === "openpaw:resumed")).toMatchObject({ iteration: 1 });
  });

  it("failures: error then response.failed; open tool calls of a cancelled run end incomplete; unknown events pass through prefixed", () => {
    const failed = fold(
      numbered([
        { event: "text", data: { text: "partial" } },
        { event: "error", data: { error: { type: "provider_error", message: "upstream 500" } } },
        done("error"),
      ]),
    );
    expect(failed.stream.slice(-3).map((e) => e.type)).toEqual(["response.output_item.done", "error", "response.failed"]);
    expect(failed.projection.output[0].status).toBe("incomplete");
    expect(failed.stream.at(-2)).toMatchObject({
      error: { type: "server_error", code: "provider_error", message: "upstream 500", param: null },
    });
    expect(failed.projection.snapshot()).toMatchObject({ status: "failed", error: { code: "provider_error", message: "upstream 500" } });
    const cancelled = fold(numbered([{ event: "tool_start", data: { tool: "exec", id: "c", input: {} } }, done("cancelled")]));
    expect(cancelled.projection.output[0]).toMatchObject({ status: "incomplete", output: null });
    const unknown = fold(numbered([{ event: "approval_required", data: { id: "c", tool: "exec" } } as never, done("end_turn")]));
    expect(unknown.stream.find((e) => e.type === "openpaw:approval_required")).toMatchObject({ data: { id: "c", tool: "exec" } });
    const limit = fold(numbered([{ event: "text", data: { text: "x" } }, done("max_iterations")]));
    expect(limit.stream.at(-1)).toMatchObject({
      type: "response.incomplete",
      response: { status: "incomplete", incomplete_details: { reason: "max_iterations" } },
    });
  });
});
