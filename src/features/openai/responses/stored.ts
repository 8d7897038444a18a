/**
 * A stored Response: its run (as the runs service lets this caller see it), its row of
 * `openai_responses`, and the Response object folded from the run's event log (or, once the log
 * has expired, rebuilt from the run's recorded messages).
 */
import type { OpenAiResponsesTable, RunsTable } from "../../../db/schema";
import type { OrgAccess } from "../../../http/context";
import { ApiError } from "../../../http/errors";
import type { RunErrorType } from "../../../runtime/events";
import type { ChatMessage } from "../../../runtime/models/types";
import type { Services } from "../../../services";
import { loadMessages } from "../../conversations/repository";
import { readRunEvents } from "../../runs/event-log";
import { isLive, totalsOf } from "../../runs/repository";
import { responseIdOf, runIdOfResponse, unixSeconds } from "../ids";
import { type OutputItem, type ResponseMeta, type ResponseObject, ResponseProjection, type ResponseStatus } from "./projection";
import { findResponse } from "./repository";

export interface StoredResponse {
  row: RunsTable;
  stored: OpenAiResponsesTable;
  meta: ResponseMeta;
}

export function metaOf(row: RunsTable, stored: Pick<OpenAiResponsesTable, "store" | "previous_response_id" | "metadata">): ResponseMeta {
  return {
    runId: row.id,
    id: responseIdOf(row.id),
    createdAt: unixSeconds(row.created_at),
    model: row.agent_id,
    conversationId: row.conversation_id,
    instructions: row.instructions,
    previousResponseId: stored.previous_response_id,
    store: stored.store === 1,
    background: row.background === 1,
    metadata: stored.metadata ? (JSON.parse(stored.metadata) as Record<string, string>) : {},
  };
}

/**
 * The stored response `responseId` names, if this caller may see its run (the runs service's
 * rules: readers of its agent, or the key that created it). `store: false` responses, runs not
 * created as responses and other orgs' are all 404 naming `param`.
 */
export async function loadResponse(services: Services, access: OrgAccess, responseId: string, param: string): Promise<StoredResponse> {
  const missing = () => new ApiError("not_found_error", `No response with id "${responseId.slice(0, 80)}".`, { param });
  const runId = runIdOfResponse(responseId);
  if (!runId) throw missing();
  let row: RunsTable;
  try {
    row = await services.runs.get(access, runId);
  } catch (error) {
    if (error instanceof ApiError && error.type === "not_found_error") throw missing();
    throw error;
  }
  const stored = await findResponse(services.db.kysely, access.orgId, runId);
  // store is 0/1: a response created with store: false is not there to be read.
  if (!stored?.store) throw missing();
  return { row, stored, meta: metaOf(row, stored) };
}

/** Folds the run's whole logged event log. */
export async function foldLog(services: Services, response: StoredResponse): Promise<ResponseProjection> {
  const projection = new ResponseProjection(response.meta);
  projection.opening();
  const page = 500;
  for (let after = 0; ; ) {
    const events = await readRunEvents(services.db.kysely, response.row.org_id, response.row.id, after, page);
    for (const event of events) projection.apply(event);
    if (events.length < page) break;
    after = events[events.length - 1].seq;
  }
  return projection;
}

const endedStatus: Record<string, ResponseStatus> = {
  completed: "completed",
  max_iterations: "incomplete",
  error: "failed",
  interrupted: "failed",
  cancelled: "cancelled",
};

/** The Response object as it is now. */
export async function responseObject(services: Services, response: StoredResponse): Promise<ResponseObject> {
  const { row } = response;
  const projection = await foldLog(services, response);
  const completedAt = row.ended_at === null ? null : unixSeconds(row.ended_at);
  if (projection.ended) return projection.snapshot({ completedAt });
  if (isLive(row.status)) return projection.snapshot({ status: row.status === "queued" ? "queued" : "in_progress" });
  // Ended, but its log is gone (retention): what the run recorded.
  const status = endedStatus[row.status] ?? "failed";
  projection.status = status;
  if (row.error) {
    const error = JSON.parse(row.error) as { type: RunErrorType; message: string };
    projection.error = { code: error.type, message: error.message };
  }
  if (status === "incomplete") projection.incompleteDetails = { reason: "max_iterations" };
  if (status === "cancelled") projection.incompleteDetails = { reason: "cancelled" };
  const messages = (await loadMessages(services.db.kysely, row.org_id, row.conversation_id))
    .filter((m) => m.runId === row.id)
    .map((m) => m.message);
  return projection.snapshot({ completedAt, usage: totalsOf(row).usage, output: outputOfMessages(row.id, messages) });
}

const WRAPPED = /^<tool_output tool="[^"]*">\n([\s\S]*)\n<\/tool_output>$/;

/** A run's output items from its recorded messages (those after its user message). */
export function outputOfMessages(runId: string, messages: ChatMessage[]): OutputItem[] {
  const random = runId.slice(runId.indexOf("_") + 1);
  const from = messages.findLastIndex((m) => m.role === "user") + 1;
  const results = new Map<string, { content: string; isError: boolean }>();
  for (const m of messages) if (m.role === "tool") for (const r of m.results) results.set(r.toolCallId, r);
  const out: OutputItem[] = [];
  for (const [i, m] of messages.entries()) {
    if (i < from || m.role !== "assistant") continue;
    for (const [j, block] of m.content.entries()) {
      const id = `${random}_m${i}_${j}`;
      if (block.type === "text") {
        out.push({
          type: "message",
          id: `msg_${id}`,
          status: "completed",
          role: "assistant",
          content: [{ type: "output_text", text: block.text, annotations: [], logprobs: [] }],
        });
      } else if (block.type === "tool_call") {
        const result = results.get(block.id);
        const output = result ? (WRAPPED.exec(result.content)?.[1] ?? result.content).replace(/<\\\/tool_output/g, "</tool_output") : null;
        out.push({
          type: "openpaw:tool_call",
          id: `tc_${id}`,
          status: result ? "completed" : "incomplete",
          call_id: block.id,
          name: block.name,
          arguments: JSON.stringify(block.input ?? {}),
          output,
          is_error: result?.isError ?? false,
        });
      }
    }
  }
  return out;
}
