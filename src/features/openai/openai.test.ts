/**
 * The OpenAI-compatible surface driven by the official `openai` SDK (a client nobody here wrote)
 * against a started gateway: Chat Completions (plain and streamed), Responses (plain, streamed,
 * background with polling, resumed streams, cancel, continuation), models, and the typed errors
 * the SDK raises for our statuses. Tenancy and scopes of every route are in compat-isolation.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import type { RunningServer } from "../../server";

const SONNET = "claude-sonnet-4-20250514";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => Promise<T>, ok: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (ok(value) || Date.now() > deadline) return value;
    await sleep(25);
  }
}

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

type Event = { type: string; sequence_number: number; [key: string]: any };

/** The fields a Response of ours carries beyond the SDK's type. */
const ours = (response: unknown) => response as { openpaw: { run_id: string; conversation_id: string }; store: boolean };

async function collect<T>(stream: AsyncIterable<T>, max = Number.POSITIVE_INFINITY): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) {
    out.push(item);
    if (out.length >= max) break;
  }
  return out;
}

describe("OpenAI-compatible surface with the official openai SDK", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let server: RunningServer;
  let a: Account;
  let b: Account;
  let adminA: string;
  let chatA: string;
  let agentA: string;
  let otherAgentA: string;
  let agentB: string;

  const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${server.url}/openai/v1`, maxRetries: 0 });
  const systemOf = (i: number) => JSON.stringify(fake.requests[i].body.system);
  const usageRecords = (runId: string) =>
    h.services.db.kysely.selectFrom("usage_records").selectAll().where("run_id", "=", runId).execute();

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_DEFAULT_PLAN: "unlimited",
      OPENPAW_SSE_PING_MS: "100",
    });
    server = await h.listen();
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    adminA = (await h.createKey(a, { scopes: ["admin"] })).key;
    chatA = (await h.createKey(a, { scopes: ["chat"] })).key;
    const create = async (account: Account, name: string) => {
      const res = await h.request("POST", `/v1/orgs/${account.orgId}/agents`, {
        cookie: account.cookie,
        body: { name, systemPrompt: `You are ${name}.`, model: SONNET, maxIterations: 5, enabledTools: ["memory_read", "memory_write"] },
      });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    agentA = await create(a, "Alpha Helper");
    otherAgentA = await create(a, "Alpha Second");
    agentB = await create(b, "Beta Secret Agent");
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.setFallback(() => ({ text: "ok" }));
  });

  describe("models", () => {
    it("lists the agents the key may chat with, in OpenAI's list shape; retrieves one", async () => {
      const list = await client(chatA).models.list();
      const ids = list.data.map((m) => m.id).sort();
      expect(ids).toEqual([agentA, otherAgentA].sort());
      expect(list.data.find((m) => m.id === agentA)).toMatchObject({ object: "model", owned_by: a.orgId, name: "Alpha Helper" });
      expect(typeof list.data[0].created).toBe("number");
      const restricted = (await h.createKey(a, { scopes: ["chat"], agentIds: [otherAgentA] })).key;
      expect((await client(restricted).models.list()).data.map((m) => m.id)).toEqual([otherAgentA]);
      expect(await client(chatA).models.retrieve(agentA)).toMatchObject({ id: agentA, object: "model" });
      const hidden = await rejection(client(restricted).models.retrieve(agentA));
      expect(hidden).toBeInstanceOf(OpenAI.NotFoundError);
      expect(hidden.code).toBe("model_not_found");
    });
  });

  describe("chat completions", () => {
    it("runs the agent's whole loop server-side; system messages follow the agent's prompt; usage is recorded like a native chat", async () => {
      fake.enqueue(
        { text: "Saving it.", toolCalls: [{ id: "toolu_1", name: "memory_write", input: { content: "the user likes tea" } }] },
        { text: "Done: you like tea.", textChunks: 3 },
      );
      const { data: completion, response } = await client(chatA)
        .chat.completions.create({
          model: agentA,
          messages: [
            { role: "system", content: "Answer in one sentence." },
            { role: "user", content: "My name is Ada." },
            { role: "assistant", content: "Hello Ada." },
            { role: "user", content: [{ type: "text", text: "Remember that I like tea." }] },
          ],
          temperature: 0.1,
          max_tokens: 12,
        })
        .withResponse();
      expect(completion).toMatchObject({
        object: "chat.completion",
        model: agentA,
        choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant" } }],
      });
      expect(completion.choices[0].message.content).toBe("Saving it.\n\nDone: you like tea.");
      expect(completion.choices[0].message.tool_calls).toBeUndefined();
      const runId = response.headers.get("x-run-id") as string;
      expect(completion.id).toBe(`chatcmpl-${runId.slice(4)}`);
      // The agent's prompt first, the caller's system text after it; the earlier turns as history.
      const system = systemOf(0);
      expect(system.indexOf("You are Alpha Helper.")).toBeLessThan(system.indexOf("Answer in one sentence."));
      const sent = fake.requests[0].body.messages;
      expect(sent.map((m: { role: string }) => m.role)).toEqual(["user", "assistant", "user"]);
      expect(JSON.stringify(sent[0])).toContain("My name is Ada.");
      // Its own sampling settings are the agent's.
      expect(fake.requests[0].body.temperature).not.toBe(0.1);
      expect(fake.requests[0].body.max_tokens).not.toBe(12);
      const [record] = await usageRecords(runId);
      expect(record).toMatchObject({ agent_id: agentA, iterations: 2, tool_calls: 1, status: "completed" });
      expect(completion.usage).toMatchObject({
        prompt_tokens: record.input_tokens + record.cache_read_tokens + record.cache_write_tokens,
        completion_tokens: record.output_tokens,
        total_tokens: record.tokens,
      });
      const notes = await h.services.db.kysely.selectFrom("memory_notes").select("content").where("agent_id", "=", agentA).execute();
      expect(notes.map((n) => n.content)).toContain("the user likes tea");
    });

    it("streams chat.completion.chunks ending with finish_reason and a usage chunk", async () => {
      fake.enqueue({ text: "one two three four", textChunks: 4 });
      const stream = await client(chatA).chat.completions.create({
        model: agentA,
        messages: [{ role: "user", content: "count" }],
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = await collect(stream);
      expect(chunks[0].choices[0].delta).toEqual({ role: "assistant", content: "" });
      expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("one two three four");
      expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
      const finish = chunks.findIndex((c) => c.choices[0]?.finish_reason);
      expect(chunks[finish].choices[0].finish_reason).toBe("stop");
      const last = chunks.at(-1) as OpenAI.ChatCompletionChunk;
      expect(finish).toBe(chunks.length - 2);
      expect(last.choices).toEqual([]);
      expect(last.usage?.completion_tokens).toBe(4);
      expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    });

    it("refuses what an agent cannot honor with 400 naming the field, and starts no run", async () => {
      const openai = client(chatA);
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ tools: [{ type: "function", function: { name: "f", parameters: {} } }] }, "tools"],
        [{ n: 2 }, "n"],
        [{ response_format: { type: "json_object" } }, "response_format.type"],
        [
          {
            messages: [
              { role: "user", content: "hi" },
              { role: "assistant", content: "prefill" },
            ],
          },
          "messages[1]",
        ],
        [
          {
            messages: [
              {
                role: "user",
                content: [
                  { type: "text", text: "look" },
                  { type: "image_url", image_url: { url: "https://x/y.png" } },
                ],
              },
            ],
          },
          "messages[0].content[1].type",
        ],
        [
          {
            messages: [
              { role: "tool", content: "result", tool_call_id: "c1" },
              { role: "user", content: "hi" },
            ],
          },
          "messages[0].role",
        ],
        [{ messages: [] }, "messages"],
        [{ messages: [{ role: "narrator", content: "hi" }] }, "messages[0].role"],
      ];
      const runsBefore = await h.services.db.kysely.selectFrom("runs").select("id").execute();
      for (const [patch, param] of cases) {
        const error = await rejection(
          openai.chat.completions.create({ model: agentA, messages: [{ role: "user", content: "hi" }], ...patch } as never),
        );
        expect(error, param).toBeInstanceOf(OpenAI.BadRequestError);
        expect(error.param, JSON.stringify(patch)).toBe(param);
        expect(error.type).toBe("invalid_request_error");
      }
      expect(await h.services.db.kysely.selectFrom("runs").select("id").execute()).toHaveLength(runsBefore.length);
      expect(fake.requests).toHaveLength(0);
    });

    it("a failure of the run is a typed error the SDK raises, marked not to be retried; its usage is still recorded", async () => {
      fake.enqueue({ status: 400 });
      const { response } = await client(chatA)
        .chat.completions.create({ model: agentA, messages: [{ role: "user", content: "fail please" }] })
        .withResponse()
        .then(
          () => ({ response: null }),
          (error) => ({ response: error }),
        );
      expect(response).toBeInstanceOf(OpenAI.InternalServerError);
      expect(response.status).toBe(502);
      expect(response.code).toBe("provider_error");
      expect(response.headers.get("x-should-retry")).toBe("false");
      const runs = await h.services.db.kysely.selectFrom("runs").selectAll().where("input", "=", "fail please").execute();
      expect(runs[0]).toMatchObject({ status: "error", stop_reason: "error" });
      expect(await usageRecords(runs[0].id)).toHaveLength(1);
    });
  });

  describe("responses", () => {
    it("creates a response: output items for text and server-side tool calls, usage; retrieve returns the same object", async () => {
      fake.enqueue(
        { text: "Let me save that.", toolCalls: [{ id: "toolu_r1", name: "memory_write", input: { content: "likes green" } }] },
        { text: "Saved: green.", textChunks: 2 },
      );
      const openai = client(chatA);
      const { data: response, response: http } = await openai.responses
        .create({ model: agentA, input: "Remember my favourite colour: green.", instructions: "Be brief.", metadata: { ticket: "T-1" } })
        .withResponse();
      const runId = http.headers.get("x-run-id") as string;
      expect(response.id).toBe(`resp_${runId.slice(4)}`);
      expect(response).toMatchObject({
        object: "response",
        status: "completed",
        model: agentA,
        instructions: "Be brief.",
        metadata: { ticket: "T-1" },
        store: true,
        background: false,
        error: null,
      });
      expect(response.output_text).toBe("Let me save that.Saved: green.");
      expect(response.output.map((item) => item.type)).toEqual(["message", "openpaw:tool_call", "message"]);
      expect(response.output[1]).toMatchObject({
        status: "completed",
        call_id: "toolu_r1",
        name: "memory_write",
        arguments: JSON.stringify({ content: "likes green" }),
        is_error: false,
      });
      expect(String((response.output[1] as any).output)).toContain("Saved");
      const [record] = await usageRecords(runId);
      expect(response.usage).toMatchObject({ output_tokens: record.output_tokens, total_tokens: record.tokens });
      expect(systemOf(0)).toContain("Be brief.");
      const retrieved = await openai.responses.retrieve(response.id);
      expect({ ...retrieved, completed_at: null, output_text: undefined }).toEqual({
        ...response,
        completed_at: null,
        output_text: undefined,
      });
      expect(retrieved.completed_at).toBeGreaterThanOrEqual(retrieved.created_at);
    });

    it("previous_response_id continues that response's conversation, and branches when it has gone on since", async () => {
      const openai = client(chatA);
      fake.enqueue({ text: "Noted, Ada." });
      const first = await openai.responses.create({ model: agentA, input: "My name is Ada." });
      fake.enqueue({ text: "You are Ada." });
      const second = await openai.responses.create({ model: agentA, input: "What is my name?", previous_response_id: first.id });
      expect(second.previous_response_id).toBe(first.id);
      const sentSecond = JSON.stringify(fake.requests[1].body.messages);
      expect(sentSecond).toContain("My name is Ada.");
      expect(sentSecond).toContain("Noted, Ada.");
      expect(ours(second).openpaw.conversation_id).toBe(ours(first).openpaw.conversation_id);
      // Back to the first response: the second turn is not part of that branch.
      fake.enqueue({ text: "A branch." });
      const branch = await openai.responses.create({ model: agentA, input: "Start over from here.", previous_response_id: first.id });
      const sentBranch = JSON.stringify(fake.requests[2].body.messages);
      expect(sentBranch).toContain("Noted, Ada.");
      expect(sentBranch).not.toContain("What is my name?");
      expect(ours(branch).openpaw.conversation_id).not.toBe(ours(first).openpaw.conversation_id);
      // The original conversation is untouched by the branch.
      const original = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agentA}/conversations/${ours(first).openpaw.conversation_id}`, {
        key: adminA,
      });
      expect(original.body.messages).toHaveLength(4);
      const otherModel = await rejection(openai.responses.create({ model: otherAgentA, input: "hi", previous_response_id: first.id }));
      expect(otherModel).toBeInstanceOf(OpenAI.BadRequestError);
      expect(otherModel.param).toBe("previous_response_id");
      const unknown = await rejection(openai.responses.create({ model: agentA, input: "hi", previous_response_id: "resp_doesnotexist" }));
      expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
      expect(unknown.param).toBe("previous_response_id");
    });

    it("input items: earlier turns become history, system items instructions; returned tool-call items are taken back", async () => {
      const openai = client(chatA);
      fake.enqueue(
        { text: "Noting.", toolCalls: [{ id: "toolu_back", name: "memory_write", input: { content: "x" } }] },
        { text: "Noted." },
      );
      const first = await openai.responses.create({ model: agentA, input: "note x", store: false });
      expect(ours(first).store).toBe(false);
      fake.enqueue({ text: "It was x." });
      // The stateless pattern: the client sends the whole transcript back, our output items included.
      await openai.responses.create({
        model: agentA,
        input: [
          { role: "developer", content: "Reply tersely." },
          { role: "user", content: "note x" },
          ...(first.output as never[]),
          { role: "user", content: [{ type: "input_text", text: "what did you note?" }] },
        ],
      });
      const body = fake.requests[2].body;
      expect(JSON.stringify(body.system)).toContain("Reply tersely.");
      expect(body.messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user"]);
      const blocks = body.messages[1].content;
      expect(blocks.map((b: { type: string }) => b.type)).toEqual(["text", "tool_use"]);
      expect(body.messages[2].content[0]).toMatchObject({ type: "tool_result", tool_use_id: "toolu_back" });
      // store: false responses cannot be retrieved or continued.
      expect(await rejection(openai.responses.retrieve(first.id))).toBeInstanceOf(OpenAI.NotFoundError);
      expect(await rejection(openai.responses.create({ model: agentA, input: "more", previous_response_id: first.id }))).toBeInstanceOf(
        OpenAI.NotFoundError,
      );
      for (const [input, param] of [
        [[{ type: "function_call_output", call_id: "c", output: "o" }], "input[0].type"],
        [[{ role: "user", content: [{ type: "input_image", image_url: "https://x/y.png" }] }], "input[0].content[0].type"],
        [
          [
            { role: "user", content: "hi" },
            { role: "assistant", content: "prefill" },
          ],
          "input[1]",
        ],
      ] as const) {
        const error = await rejection(openai.responses.create({ model: agentA, input: input as never }));
        expect(error, param).toBeInstanceOf(OpenAI.BadRequestError);
        expect(error.param).toBe(param);
      }
      for (const [patch, param] of [
        [{ tools: [{ type: "function", name: "f", parameters: {} }] }, "tools"],
        [{ background: true, store: false }, "store"],
        [{ text: { format: { type: "json_object" } } }, "text.format.type"],
        [{ conversation: "conv_1" }, "conversation"],
      ] as const) {
        const error = await rejection(openai.responses.create({ model: agentA, input: "hi", ...(patch as object) } as never));
        expect(error, param).toBeInstanceOf(OpenAI.BadRequestError);
        expect(error.param).toBe(param);
      }
    });

    it("streams the semantic events with consecutive sequence numbers; a replay from the log is identical, and starting_after resumes it", async () => {
      fake.enqueue(
        { text: "Checking.", textChunks: 2, toolCalls: [{ id: "toolu_s1", name: "memory_read", input: { query: "tea" } }] },
        { text: "Found it.", textChunks: 3 },
      );
      const openai = client(chatA);
      const live = (await collect(
        await openai.responses.create({ model: agentA, input: "what do I like?", stream: true }),
      )) as unknown as Event[];
      expect(live.map((e) => e.sequence_number)).toEqual(live.map((_, i) => i));
      expect(live.map((e) => e.type)).toEqual([
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
      ]);
      const completed = live.at(-1) as Event;
      expect(completed.response.output.map((i: { type: string }) => i.type)).toEqual(["message", "openpaw:tool_call", "message"]);
      expect(live[9].item).toMatchObject({ type: "openpaw:tool_call", status: "in_progress", call_id: "toolu_s1", name: "memory_read" });
      expect(live[10].item).toMatchObject({ status: "completed", call_id: "toolu_s1" });
      expect(completed.response.usage.total_tokens).toBeGreaterThan(0);
      const id = completed.response.id as string;
      const replay = (await collect(await openai.responses.retrieve(id, { stream: true }))) as unknown as Event[];
      expect(replay).toEqual(live);
      for (const after of [0, 7, 18, 19]) {
        const rest = (await collect(await openai.responses.retrieve(id, { stream: true, starting_after: after }))) as unknown as Event[];
        expect(rest).toEqual(live.slice(after + 1));
      }
      // The wire: event lines equal to the type, no ids, and the literal [DONE] at the end.
      const raw = await (
        await fetch(`${server.url}/openai/v1/responses/${id}?stream=true&starting_after=18`, {
          headers: { authorization: `Bearer ${chatA}` },
        })
      ).text();
      expect(raw.replace(/^: ping\n\n/gm, "")).toBe(`event: response.completed\ndata: ${JSON.stringify(completed)}\n\ndata: [DONE]\n\n`);
      const bad = await rejection(openai.responses.retrieve(id, { stream: true, starting_after: "x" as never }));
      expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
      expect(bad.param).toBe("starting_after");
    });

    it("background: a durable run; retrieve polls it; a stream cut anywhere and resumed with starting_after is the uninterrupted stream", async () => {
      fake.enqueue(
        {
          text: "Working on it step by step",
          textChunks: 6,
          delayMs: 40,
          toolCalls: [{ id: "toolu_bg", name: "memory_write", input: { content: "bg" } }],
        },
        { text: "All done now", textChunks: 4, delayMs: 40 },
      );
      const openai = client(chatA);
      const created = await openai.responses.create({ model: agentA, input: "work in the background", background: true });
      expect(created).toMatchObject({ background: true, output: [] });
      expect(["queued", "in_progress"]).toContain(created.status);
      // Reconnect after every event, each time resuming after the last sequence number seen.
      const seen: Event[] = [];
      for (let i = 0; i < 200; i++) {
        const last = seen.at(-1)?.sequence_number;
        const stream = await openai.responses.retrieve(
          created.id,
          last === undefined ? { stream: true } : { stream: true, starting_after: last },
        );
        const got = (await collect(stream, 1)) as unknown as Event[];
        if (got.length === 0) break;
        seen.push(...got);
        if (seen.at(-1)?.type === "response.completed") break;
      }
      const whole = (await collect(await openai.responses.retrieve(created.id, { stream: true }))) as unknown as Event[];
      expect(whole.at(-1)?.type).toBe("response.completed");
      expect(seen).toEqual(whole);
      expect(whole[0]).toMatchObject({ type: "response.created", response: { status: "queued", background: true } });
      expect(whole[1].type).toBe("response.queued");
      const done = await until(
        () => openai.responses.retrieve(created.id),
        (r) => r.status === "completed",
      );
      expect(done.output_text).toBe("Working on it step by stepAll done now");
      const run = await h.request("GET", `/v1/orgs/${a.orgId}/runs/${ours(done).openpaw.run_id}`, { key: adminA });
      expect(run.body).toMatchObject({ background: true, status: "completed" });
    });

    it("cancel: a running background response stops and reads cancelled; cancelling again returns it; an ended one is 409", async () => {
      fake.enqueue({ text: "a very long answer that takes its time", textChunks: 30, delayMs: 150 });
      const openai = client(chatA);
      const created = await openai.responses.create({ model: agentA, input: "take long", background: true });
      await until(
        () => h.request("GET", `/v1/orgs/${a.orgId}/runs/${ours(created).openpaw.run_id}`, { key: adminA }),
        (r) => r.body.lastEventId >= 1,
      );
      const cancelled = await openai.responses.cancel(created.id);
      expect(cancelled).toMatchObject({ id: created.id, status: "cancelled", incomplete_details: { reason: "cancelled" } });
      expect((await openai.responses.cancel(created.id)).status).toBe("cancelled");
      const events = (await collect(await openai.responses.retrieve(created.id, { stream: true }))) as unknown as Event[];
      expect(events.at(-1)).toMatchObject({ type: "response.incomplete", response: { status: "cancelled" } });
      expect(await usageRecords(ours(created).openpaw.run_id)).toHaveLength(1);
      fake.enqueue({ text: "quick" });
      const finished = await openai.responses.create({ model: agentA, input: "quick one" });
      const conflict = await rejection(openai.responses.cancel(finished.id));
      expect(conflict).toBeInstanceOf(OpenAI.ConflictError);
      expect(conflict.headers.get("x-should-retry")).toBe("false");
    });

    it("once the run's event log has expired: the response is rebuilt from the recorded conversation, and ?stream=true is 410", async () => {
      fake.enqueue(
        { text: "Saving.", toolCalls: [{ id: "toolu_exp", name: "memory_write", input: { content: "kept" } }] },
        { text: "Kept." },
      );
      const openai = client(chatA);
      const response = await openai.responses.create({ model: agentA, input: "keep this" });
      const runId = ours(response).openpaw.run_id;
      await h.services.db.kysely.updateTable("runs").set({ ended_at: 1 }).where("id", "=", runId).execute();
      expect(await h.services.runs.pruneEvents()).toBeGreaterThanOrEqual(1);
      const rebuilt = await openai.responses.retrieve(response.id);
      expect(rebuilt).toMatchObject({ id: response.id, status: "completed", usage: { total_tokens: response.usage?.total_tokens } });
      expect(rebuilt.output_text).toBe("Saving.Kept.");
      expect(rebuilt.output.map((i) => i.type)).toEqual(["message", "openpaw:tool_call", "message"]);
      expect(rebuilt.output[1]).toMatchObject({ call_id: "toolu_exp", name: "memory_write", status: "completed", is_error: false });
      expect((rebuilt.output[1] as any).output).toBe((response.output[1] as any).output);
      const gone = await rejection(openai.responses.retrieve(response.id, { stream: true }));
      expect(gone).toBeInstanceOf(OpenAI.APIError);
      expect(gone.status).toBe(410);
    });

    it("the runs' rules decide who sees a response: its creator and readers of its agent; cancel needs write or being its creator", async () => {
      const openai = client(chatA);
      fake.enqueue({ text: "mine" });
      const mine = await openai.responses.create({ model: agentA, input: "mine" });
      const otherChat = (await h.createKey(a, { scopes: ["chat"] })).key;
      const reader = (await h.createKey(a, { scopes: ["read"] })).key;
      expect(await rejection(client(otherChat).responses.retrieve(mine.id))).toBeInstanceOf(OpenAI.NotFoundError);
      expect((await client(reader).responses.retrieve(mine.id)).id).toBe(mine.id);
      fake.enqueue({ text: "slow slow slow", textChunks: 20, delayMs: 150 });
      const slow = await openai.responses.create({ model: agentA, input: "slow", background: true });
      expect(await rejection(client(reader).responses.cancel(slow.id))).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(await rejection(client(otherChat).responses.cancel(slow.id))).toBeInstanceOf(OpenAI.NotFoundError);
      expect((await client(adminA).responses.cancel(slow.id)).status).toBe("cancelled");
      // A run started elsewhere is not a response.
      const native = await h.request("POST", `/v1/agent/${agentA}/chat`, { key: adminA, body: { message: "native", stream: false } });
      expect(await rejection(client(adminA).responses.retrieve(`resp_${native.body.runId.slice(4)}`))).toBeInstanceOf(OpenAI.NotFoundError);
    });
  });

  describe("typed errors", () => {
    it("bad key 401, another org's agent 404 (never a hint), read-only key 403, cookie is not a credential here", async () => {
      const bad = await rejection(client("sk_live_notarealkey000000000000000000000000").models.list());
      expect(bad).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(bad.code).toBe("invalid_api_key");
      const foreign = await rejection(
        client(adminA).chat.completions.create({ model: agentB, messages: [{ role: "user", content: "hi" }] }),
      );
      const unknown = await rejection(
        client(adminA).chat.completions.create({ model: "ag_doesnotexist0000000", messages: [{ role: "user", content: "hi" }] }),
      );
      for (const error of [foreign, unknown]) {
        expect(error).toBeInstanceOf(OpenAI.NotFoundError);
        expect(error.code).toBe("model_not_found");
        expect(error.param).toBe("model");
        expect(JSON.stringify(error.error)).not.toContain("Beta Secret Agent");
      }
      expect(foreign.message.replace(agentB, "ID")).toBe(unknown.message.replace("ag_doesnotexist0000000", "ID"));
      expect(await rejection(client(adminA).responses.create({ model: agentB, input: "hi" }))).toBeInstanceOf(OpenAI.NotFoundError);
      const readOnly = (await h.createKey(a, { scopes: ["read"] })).key;
      expect(
        await rejection(client(readOnly).chat.completions.create({ model: agentA, messages: [{ role: "user", content: "hi" }] })),
      ).toBeInstanceOf(OpenAI.PermissionDeniedError);
      const withCookie = await fetch(`${server.url}/openai/v1/models`, { headers: { cookie: a.cookie } });
      expect(withCookie.status).toBe(401);
      expect(await withCookie.json()).toEqual({
        error: { message: expect.any(String), type: "invalid_request_error", param: null, code: "invalid_api_key" },
      });
      const nowhere = await fetch(`${server.url}/openai/v1/embeddings`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminA}`, "content-type": "application/json" },
        body: "{}",
      });
      expect(nowhere.status).toBe(404);
      expect(((await nowhere.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
      expect(fake.requests).toHaveLength(0);
    });

    it("a plan's token limit reached: 402, raised by the SDK as an APIError with status 402", async () => {
      const c = await h.signup({ orgName: "Quota C" });
      await h.services.db.kysely.updateTable("orgs").set({ plan: "free" }).where("id", "=", c.orgId).execute();
      const key = (await h.createKey(c, { scopes: ["chat"] })).key;
      const agent = await h.request("POST", `/v1/orgs/${c.orgId}/agents`, {
        cookie: c.cookie,
        body: { name: "Q", systemPrompt: "q", model: SONNET, enabledTools: [] },
      });
      expect(await h.services.quota.reserve(c.orgId, 200_000)).toBe(true);
      await h.services.quota.settle(c.orgId, 200_000, 200_000);
      for (const call of [
        () => client(key).chat.completions.create({ model: agent.body.id, messages: [{ role: "user", content: "hi" }] }),
        () => client(key).responses.create({ model: agent.body.id, input: "hi", background: true }),
      ]) {
        const error = await rejection(call());
        expect(error).toBeInstanceOf(OpenAI.APIError);
        expect(error.status).toBe(402);
        expect(error.type).toBe("insufficient_quota");
      }
      expect(fake.requests).toHaveLength(0);
    });
  });
});
