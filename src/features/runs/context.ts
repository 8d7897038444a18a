/**
 * Everything a run needs before its first model call, for a new run and for one that continues
 * from its recorded state: the model and provider, the conversation, the system prompt (agent
 * prompt, skills, NOTES, matching HISTORY), the history that fits, and the tools.
 */
import type { Kysely } from "kysely";
import type { AgentsTable, Database, RunsTable } from "../../db/schema";
import type { OrgAccess } from "../../http/context";
import { ApiError, errors } from "../../http/errors";
import { newId } from "../../lib/ids";
import { composeContext, estimateFirstCallTokens, fitHistory, promptText } from "../../runtime/context";
import { type ResumeState, type RunStart, estimateTokens, startMessages } from "../../runtime/loop";
import type { ModelInfo } from "../../runtime/models/catalogue";
import { type ChatMessage, type ModelProvider, type PromptBlock, type TokenUsage, emptyUsage } from "../../runtime/models/types";
import { buildSystemPrompt } from "../../runtime/prompt";
import { toJsonSchema } from "../../runtime/tools/schema";
import type { ToolDefinition, ToolTier } from "../../runtime/tools/types";
import type { Services } from "../../services";
import { effectivePlan } from "../billing/period";
import type { Plan } from "../billing/plans";
import { MessageAppender, findConversation, insertConversation, loadMessages } from "../conversations/repository";
import { createMemoryStore } from "../memory/store";
import { findOrgCached } from "../orgs/repository";
import { listAgentSkills } from "../skills/repository";
import { approvalRequiredFor, deniedResult } from "../approvals/policy";
import { approvalsOfCalls } from "../approvals/repository";
import { recordedToolResults, startedToolCalls } from "./event-log";
import { insertRun, totalsOf } from "./repository";

/** Output tokens asked of one model call; also the worst case reserved against the quota. */
export const MAX_OUTPUT_TOKENS = 8192;

/** What a tool call cut by a gateway's death returns to the model when the run continues. */
export const INTERRUPTED_TOOL_RESULT =
  "This tool call was interrupted: the gateway running it stopped before its result was recorded. " +
  "It may or may not have taken effect; check before repeating it.";

export type RunDeps = Pick<Services, "config" | "logger" | "db" | "plans" | "quota" | "models" | "providers" | "tools" | "mcp" | "runSlots" | "telemetry">;

/** A run this gateway is about to execute, with its whole context. */
export interface ExecutableRun {
  row: RunsTable;
  access: OrgAccess;
  agent: AgentsTable;
  plan: Plan;
  model: ModelInfo;
  provider: ModelProvider;
  /** Most stable block first (runtime/context's composeContext). */
  system: PromptBlock[];
  /** Turns of the conversation before this run, trimmed to fit. */
  history: ChatMessage[];
  tools: ToolDefinition<any>[];
  start: RunStart;
  /** What this run's subagents used; their own usage records carry it, `done` adds it in. */
  children: { runs: number; usage: TokenUsage; cost: number };
  /**
   * Writes the run's messages. It starts at the seq the next message takes in the conversation,
   * as of the messages loaded here (1 for a new conversation), so the first append needs no read;
   * another run's message written since collides on the unique index, and the append then reads
   * the seq afresh.
   */
  appender: MessageAppender;
}

/** The agent's model from the catalogue (or served by a configured provider) and its provider; 400/503 otherwise. */
export async function resolveModel(deps: Pick<RunDeps, "models" | "providers">, agent: AgentsTable): Promise<{ model: ModelInfo; provider: ModelProvider }> {
  const model = await deps.models.resolve(agent.model);
  if (!model) throw errors.invalid(`The agent's model "${agent.model}" is not in this deployment's model catalogue.`, "model");
  const provider = deps.providers[model.provider];
  if (!model.available || !provider) throw unavailableModel(deps, model);
  return { model, provider };
}

/** The 503 for a model whose provider is not set up here; names the variables that would set it up. */
function unavailableModel(deps: Pick<RunDeps, "models">, model: ModelInfo): ApiError {
  const fix =
    model.provider === "anthropic"
      ? "Set ANTHROPIC_API_KEY, or choose a model of a configured provider (GET /v1/models lists them with `available`)."
      : model.local
        ? `Its server (OPENAI_BASE_URL ${deps.models.localServer}) no longer lists it: load it there again, or choose another model.`
        : "Set OPENAI_BASE_URL to an OpenAI-compatible server (Ollama: http://localhost:11434/v1) or OPENAI_API_KEY for OpenAI, or choose a model of a configured provider.";
  return new ApiError("provider_error", `The agent's model "${model.id}" is not available on this deployment. ${fix}`, { status: 503, code: "model_unavailable" });
}

/** The org's plan as of now; 404 when the org is gone. */
export async function planOf(deps: Pick<RunDeps, "db" | "plans">, orgId: string): Promise<Plan> {
  const org = await findOrgCached(deps.db, orgId);
  if (!org) throw errors.notFound("Agent", "agentId");
  return effectivePlan(org, deps.plans, Date.now());
}

/**
 * The conversation a run continues (404 when it is not this agent's), or the id of a new one, not
 * yet written (`isNew`): a run refused before it starts leaves nothing behind.
 */
export async function conversationOf(
  deps: Pick<RunDeps, "db">,
  orgId: string,
  agentId: string,
  conversationId: string | undefined,
): Promise<{ id: string; isNew: boolean }> {
  if (!conversationId) return { id: newId("conv"), isNew: true };
  if (!(await findConversation(deps.db.kysely, orgId, agentId, conversationId))) throw errors.notFound("Conversation", "conversationId");
  return { id: conversationId, isNew: false };
}

/** Writes a new conversation, titled after the run's message. */
export async function insertNewConversation(deps: Pick<RunDeps, "db">, orgId: string, agentId: string, id: string, message: string): Promise<void> {
  await insertConversationRow(deps.db.kysely, orgId, agentId, id, message);
}

/**
 * Writes a run's row, after its new conversation when it starts one (titled after `message`),
 * in one transaction: one commit instead of two on the way to the first model call.
 */
export async function insertRunRecord(
  deps: Pick<RunDeps, "db">,
  row: RunsTable,
  newConversation: { agentId: string; message: string } | null,
): Promise<void> {
  if (!newConversation) return insertRun(deps.db.kysely, row);
  await deps.db.kysely.transaction().execute(async (trx) => {
    await insertConversationRow(trx, row.org_id, newConversation.agentId, row.conversation_id, newConversation.message);
    await insertRun(trx, row);
  });
}

/**
 * `insertRunRecord` for a run about to execute here: its user message goes in the same
 * transaction (one commit instead of two on the way to the first model call, and no run row
 * without its message), and the loop is told it is recorded. A run with a prelude (several
 * messages) leaves them to the loop.
 */
export async function insertStartingRunRecord(
  deps: Pick<RunDeps, "db">,
  run: ExecutableRun,
  newConversation: { agentId: string; message: string } | null,
): Promise<void> {
  const { row, start } = run;
  if (start.kind !== "new" || start.prelude?.length) return insertRunRecord(deps, row, newConversation);
  const [user] = startMessages(start);
  await run.appender.append(user, async (trx) => {
    if (newConversation) await insertConversationRow(trx, row.org_id, newConversation.agentId, row.conversation_id, newConversation.message);
    await insertRun(trx, row);
  });
  run.start = { ...start, recorded: true };
}

async function insertConversationRow(db: Kysely<Database>, orgId: string, agentId: string, id: string, message: string): Promise<void> {
  const now = Date.now();
  await insertConversation(db, {
    id,
    org_id: orgId,
    agent_id: agentId,
    title: message.replace(/\s+/g, " ").trim().slice(0, 80),
    created_at: now,
    updated_at: now,
  });
}

/** Refuses (402) a run whose first model call cannot fit what the org's plan has left. */
export async function assertFirstCallFits(deps: Pick<RunDeps, "quota">, run: ExecutableRun): Promise<void> {
  if (run.start.kind !== "new") return;
  const specs = run.tools.map((t) => ({ name: t.name, description: t.description, inputSchema: toJsonSchema(t.input) }));
  await deps.quota.assertCallFits(run.access.orgId, estimateFirstCallTokens(run.system, run.history, run.start.userMessage, run.start.userContext, specs));
}

/** Takes the concurrency slots of a run (per key or user, and per org); null when one is full. */
export function acquireRunSlots(deps: Pick<RunDeps, "config" | "runSlots">, access: OrgAccess, plan: Plan): Promise<(() => void) | null> {
  const principal = access.principal;
  const who = principal.kind === "key" ? `key:${principal.keyId}` : `user:${principal.userId}`;
  return deps.runSlots.acquire([
    [who, deps.config.limits.concurrentRunsPerKey],
    [`org:${access.orgId}`, Math.min(plan.maxConcurrentRuns, deps.config.limits.concurrentRunsPerOrg)],
  ]);
}

export interface ContextOptions {
  row: RunsTable;
  access: OrgAccess;
  agent: AgentsTable;
  plan: Plan;
  /** Binds the `subagent` tool to this run (absent for a subagent's own run: depth is one). */
  bindSubagent?: (self: () => ExecutableRun) => ToolDefinition<any>;
  /** The run's conversation is not written yet: it has no messages to load. */
  newConversation?: boolean;
}

/**
 * Builds the run's context. A new run (no events, no messages yet) starts with its input as the
 * user message; a run with recorded messages continues from them (see `resumeStateOf`).
 */
export async function buildRunContext(deps: RunDeps, options: ContextOptions): Promise<ExecutableRun> {
  const { row, access, agent, plan } = options;
  const { model, provider } = await resolveModel(deps, agent);
  const enabled = JSON.parse(agent.enabled_tools) as string[];
  let self: ExecutableRun | undefined;
  const tools = await toolsOfRun(deps, enabled, plan.toolTier, access.orgId, options.bindSubagent ? () => self as ExecutableRun : null, options.bindSubagent);
  const memory = createMemoryStore(deps.db.kysely, access.orgId, agent.id);
  const [skills, notes, matches, stored] = await Promise.all([
    listAgentSkills(deps.db.kysely, access.orgId, agent.id),
    memory.notes(),
    memory.matchingHistory(row.input, 5),
    options.newConversation ? [] : loadMessages(deps.db.kysely, access.orgId, row.conversation_id),
  ]);
  const memoryTools = tools.some((t) => t.name === "memory_read" || t.name === "memory_write");
  const { system, userContext } = composeContext(buildSystemPrompt(agent.system_prompt, skills), notes, matches, {
    memoryTools,
    instructions: row.instructions,
  });
  const prelude = row.prelude ? (JSON.parse(row.prelude) as ChatMessage[]) : [];

  const firstOwn = stored.findIndex((m) => m.runId === row.id);
  const earlier = (firstOwn === -1 ? stored : stored.slice(0, firstOwn)).filter((m) => m.runId !== row.id).map((m) => m.message);
  const own = stored.filter((m) => m.runId === row.id).map((m) => m.message);
  const budget =
    model.contextWindow -
    Math.min(model.maxOutputTokens, MAX_OUTPUT_TOKENS) -
    estimateTokens(promptText(system)) -
    estimateTokens(own.length ? JSON.stringify(own) : row.input + (row.prelude ?? "")) -
    2_000;
  const history = fitHistory(earlier, Math.max(0, budget));
  // Once recorded, the prelude is among the run's own messages: a continuation finds it there.
  const start: RunStart =
    own.length === 0 ? { kind: "new", userMessage: row.input, userContext, prelude } : { kind: "resume", state: await resumeStateOf(deps, row, own, approvalRequiredFor(JSON.parse(agent.approval_required) as string[])) };

  const appender = new MessageAppender(deps.db.kysely, access.orgId, row.conversation_id, row.id, (stored.at(-1)?.seq ?? 0) + 1);
  self = { row, access, agent, plan, model, provider, system, history, tools, start, children: { runs: 0, usage: emptyUsage(), cost: 0 }, appender };
  return self;
}

/**
 * The state a run continues from: its recorded messages and counters, and for the tool calls of
 * its last assistant message (if they have no results message yet) what must not run again: a
 * result recorded in the event log before the cut, or else the note that the call was
 * interrupted and may or may not have taken effect. Nothing that started is run twice.
 *
 * Calls that needed an approval: a denied one gets the denial (with its reason) as its result;
 * an approved one runs now (unless it had started already: then it was interrupted like any
 * other); one never asked about (the run was cut before its wait was recorded) never started, so
 * it is asked again.
 */
async function resumeStateOf(deps: Pick<RunDeps, "db">, row: RunsTable, own: ChatMessage[], needsApproval: (call: { name: string }) => boolean): Promise<ResumeState> {
  const settled: ResumeState["settled"] = new Map();
  const approved = new Set<string>();
  const last = own.at(-1);
  if (last?.role === "assistant") {
    const calls = last.content.flatMap((b) => (b.type === "tool_call" ? [b] : []));
    const ids = calls.map((c) => c.id);
    const db = deps.db.kysely;
    const [recorded, approvals, started] = await Promise.all([
      recordedToolResults(db, row.org_id, row.id, ids),
      approvalsOfCalls(db, row.org_id, row.id, ids),
      startedToolCalls(db, row.org_id, row.id, ids),
    ]);
    const interrupted = { output: INTERRUPTED_TOOL_RESULT, isError: true, emitted: false };
    for (const call of calls) {
      const result = recorded.get(call.id);
      const approval = approvals.get(call.id);
      if (result) settled.set(call.id, { ...result, emitted: true });
      else if (started.has(call.id)) settled.set(call.id, interrupted);
      else if (approval?.approved === 1) approved.add(call.id);
      else if (approval?.approved === 0) settled.set(call.id, { output: deniedResult(approval.reason), isError: true, emitted: false });
      else if (!approval && !needsApproval(call)) settled.set(call.id, interrupted);
      // Otherwise it waits (again) for a decision: it never ran.
    }
  }
  return { messages: own, totals: totalsOf(row), settled, approved };
}

/**
 * The tools of one run: the registry's (enabled ∩ plan ∩ configured), with `mcp_call` expanded
 * into the org's MCP server tools and `subagent` bound to this run.
 */
async function toolsOfRun(
  deps: RunDeps,
  enabled: readonly string[],
  tier: ToolTier,
  orgId: string,
  self: (() => ExecutableRun) | null,
  bindSubagent: ContextOptions["bindSubagent"],
): Promise<ToolDefinition<any>[]> {
  const out: ToolDefinition<any>[] = [];
  for (const tool of deps.tools.forRun(enabled, tier)) {
    if (tool.name === "mcp_call") out.push(...(await deps.mcp.toolsForRun(orgId)));
    else if (tool.name === "subagent") {
      if (self && bindSubagent) out.push(bindSubagent(self));
    } else out.push(tool);
  }
  return out;
}
