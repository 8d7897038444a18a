/**
 * The MCP server of one HTTP request (stateless: every POST builds its own, so any gateway answers
 * any request): one tool per agent the key may chat with. A call is a foreground run through the
 * runs service, like a chat (same scopes, quotas, concurrency, usage records); while it works the
 * client gets progress notifications, and cancelling the call cancels the run.
 *
 * A client's cancellation arrives as a notification on another POST, possibly at another gateway:
 * it is relayed on the runs bus under a key of the caller's own (API key, the session id the client
 * echoes, the JSON-RPC request id), which the gateway running the call listens on.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { CancelledNotificationSchema, type RequestId } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { AgentsTable } from "../../db/schema";
import type { OrgAccess } from "../../http/context";
import { ApiError } from "../../http/errors";
import { canSeeAgent } from "../../http/permissions";
import type { RunEvent } from "../../runtime/events";
import type { RunResult } from "../../runtime/loop";
import { totalTokens } from "../../runtime/loop";
import type { Services } from "../../services";
import { listAgents } from "../agents/repository";
import { toolNamesOf } from "./tool-names";

export interface McpCaller {
  services: Services;
  access: OrgAccess;
  /** Who the client is across its HTTP requests: its API key and, when it echoes one, its session id. */
  identity: string;
  /** Aborted when the HTTP request carrying a call goes away. */
  signal: AbortSignal;
}

const MAX_MESSAGE = 100_000;

const inputSchema = {
  message: z.string().min(1).max(MAX_MESSAGE).describe("What to ask or tell the agent."),
  conversationId: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe("Continue this conversation (the conversationId of an earlier result); without it a new conversation starts."),
};

const outputSchema = {
  text: z.string().describe("The agent's answer"),
  conversationId: z.string().describe("Pass it back to continue the conversation"),
  runId: z.string(),
  stopReason: z.enum(["end_turn", "max_iterations", "error", "cancelled"]),
  usage: z.object({
    inputTokens: z.number(),
    outputTokens: z.number(),
    cacheReadTokens: z.number(),
    cacheWriteTokens: z.number(),
    tokens: z.number(),
    cost: z.number().describe("USD"),
    iterations: z.number(),
    toolCalls: z.number(),
  }),
};

/** The bus key a cancellation of one of this caller's requests travels on (not a run id: a correlation key). */
const cancelChannel = (identity: string, requestId: RequestId) => `mcp-call:${identity}:${JSON.stringify(requestId)}`;

async function allAgents(services: Services, orgId: string): Promise<AgentsTable[]> {
  const out: AgentsTable[] = [];
  for (let offset = 0; ; offset += 200) {
    const { rows, total } = await listAgents(services.db.kysely, orgId, { agentIds: null, limit: 200, offset });
    out.push(...rows);
    if (offset + 200 >= total || rows.length === 0) return out;
  }
}

/** What the client sees of a run's progress: a line per step, numbered so it only grows. */
function progressMessage(event: RunEvent, afterTool: boolean): string | null {
  if (event.event === "tool_start") return `Using ${event.data.tool}`;
  if (event.event === "tool_result") return `${event.data.tool} ${event.data.isError ? "failed" : "finished"}`;
  if (event.event === "text" && afterTool) return "Writing the answer";
  if (event.event === "resumed") return "Continuing after an interruption";
  return null;
}

function resultOf(result: RunResult, runId: string, conversationId: string) {
  const usage = {
    ...result.usage,
    tokens: totalTokens(result.usage),
    cost: result.cost,
    iterations: result.iterations,
    toolCalls: result.toolCalls,
  };
  const failed = result.stopReason === "error" || result.stopReason === "cancelled";
  const note =
    result.stopReason === "error"
      ? `The agent's run failed: ${result.error?.message ?? "unknown error"}`
      : result.stopReason === "cancelled"
        ? "The agent's run was cancelled."
        : result.stopReason === "max_iterations"
          ? "\n[the agent stopped at its iteration limit]"
          : "";
  const text = failed ? note : `${result.text || "(the agent answered with no text)"}${note}`;
  return {
    content: [{ type: "text" as const, text }],
    structuredContent: { text: result.text, conversationId, runId, stopReason: result.stopReason, usage },
    isError: failed,
  };
}

/** Builds the server for one HTTP request of `caller`. */
export async function agentsMcpServer(caller: McpCaller): Promise<McpServer> {
  const { services, access } = caller;
  const server = new McpServer(
    { name: "openpaw", title: "OpenPaw agents", version: "0.1.0" },
    {
      capabilities: { tools: { listChanged: false } },
      instructions:
        "Each tool is an OpenPaw agent with its own tools and memory. Pass conversationId from a result to continue that conversation.",
    },
  );
  const names = toolNamesOf(await allAgents(services, access.orgId));
  for (const [name, agent] of names) {
    if (!canSeeAgent(access, agent.id)) continue;
    const description = `${agent.description?.trim() || `The OpenPaw agent "${agent.name}".`} It runs with its own tools and answers in text.`;
    server.registerTool(
      name,
      { title: agent.name, description: description.slice(0, 1024), inputSchema, outputSchema },
      async (args, extra) => {
        const controller = new AbortController();
        const abort = () => controller.abort();
        const unsubscribe = services.runs.bus.subscribe(cancelChannel(caller.identity, extra.requestId), (signal) => {
          if (signal.kind === "cancel") abort();
        });
        const signal = AbortSignal.any([controller.signal, extra.signal, caller.signal]);
        try {
          const pending = await services.runs.startForeground({
            access,
            agent,
            message: args.message,
            conversationId: args.conversationId,
          });
          const token = extra._meta?.progressToken;
          let progress = 0;
          let afterTool = true;
          const result = await pending.execute((event) => {
            const message = progressMessage(event, afterTool);
            afterTool = event.event === "tool_result" || (afterTool && event.event !== "text");
            if (token === undefined || message === null) return;
            extra
              .sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: ++progress, message } })
              .catch(() => {});
          }, signal);
          return resultOf(result, pending.row.id, pending.row.conversation_id);
        } catch (error) {
          // Refused before it started (quota, concurrency, an unknown conversation): the calling model reads why.
          if (error instanceof ApiError) return { content: [{ type: "text" as const, text: error.message }], isError: true };
          throw error;
        } finally {
          unsubscribe();
        }
      },
    );
  }
  // Replaces the SDK's own handler, which only knows the requests of this (one-request) server.
  server.server.setNotificationHandler(CancelledNotificationSchema, (notification) => {
    const { requestId } = notification.params;
    if (requestId !== undefined) services.runs.bus.publish({ kind: "cancel", runId: cancelChannel(caller.identity, requestId) });
  });
  return server;
}
