import type { Context } from "hono";
import type { AgentsTable, RunStatus } from "../../db/schema";
import { resolveOrgAccess } from "../../http/auth";
import type { AppEnv, OrgAccess, Principal } from "../../http/context";
import { ApiError, errors } from "../../http/errors";
import { canSeeAgent, requirePermission } from "../../http/permissions";
import { newId } from "../../lib/ids";
import type { Logger } from "../../lib/logger";
import { composeContext, estimateFirstCallTokens, fitHistory, historyEntry, promptText } from "../../runtime/context";
import type { RunEvent, StopReason } from "../../runtime/events";
import { type RunResult, type RunTotals, estimateTokens, runAgent, totalTokens } from "../../runtime/loop";
import { type ModelInfo, costOf } from "../../runtime/models/catalogue";
import { addUsage } from "../../runtime/models/retry";
import { type ChatMessage, type ModelProvider, type PromptBlock, type TokenUsage, emptyUsage } from "../../runtime/models/types";
import { buildSystemPrompt } from "../../runtime/prompt";
import { toJsonSchema } from "../../runtime/tools/schema";
import { type SubagentInput, createSubagentTool } from "../../runtime/tools/subagent";
import type { ToolTier, ToolContext, ToolDefinition, ToolOutput } from "../../runtime/tools/types";
import type { Services } from "../../services";
import { findAgent } from "../agents/repository";
import { effectivePlan } from "../billing/period";
import { MessageAppender, findConversation, insertConversation, loadMessages, touchConversation } from "../conversations/repository";
import { createMemoryStore } from "../memory/store";
import { findOrg } from "../orgs/repository";
import { listAgentSkills } from "../skills/repository";
import { insertUsageRecord } from "../usage/repository";
import { endRun, heartbeatRun, insertRun, saveRunProgress } from "./runs-repository";

/** Output tokens asked of one model call; also the worst case reserved against the quota. */
const MAX_OUTPUT_TOKENS = 8192;
const HEARTBEAT_MS = 30_000;

export interface ChatBody {
  message: string;
  conversationId?: string;
}

/** Everything decided before the first byte of the response: any failure here is a plain JSON error. */
export interface PreparedRun {
  runId: string;
  conversationId: string;
  access: OrgAccess;
  agent: AgentsTable;
  model: ModelInfo;
  provider: ModelProvider;
  system: PromptBlock[];
  /** The memory matched to the message, sent with it (runtime/context's composeContext). */
  userContext: string | undefined;
  history: ChatMessage[];
  tools: ToolDefinition<any>[];
  message: string;
  startedAt: number;
  release: () => void;
  /** The run that spawned this one as a subagent; null for a run a client started. */
  parentRunId: string | null;
  /** What this run's subagents used; their own usage records carry it, `done` adds it in. */
  children: { runs: number; usage: TokenUsage; cost: number };
}

/**
 * Finds the agent the principal may chat with. Keys look only in their own org; users only in
 * orgs they belong to. Anything else is 404, never revealing that the agent exists elsewhere.
 */
async function resolveAgent(c: Context<AppEnv>, principal: Principal, agentId: string): Promise<{ agent: AgentsTable; access: OrgAccess }> {
  const { db } = c.var.services;
  let orgId: string | undefined;
  if (principal.kind === "key") orgId = principal.orgId;
  else {
    const row = await db.kysely
      .selectFrom("agents")
      .innerJoin("memberships", "memberships.org_id", "agents.org_id")
      .select("agents.org_id")
      .where("agents.id", "=", agentId)
      .where("memberships.user_id", "=", principal.userId)
      .executeTakeFirst();
    orgId = row?.org_id;
  }
  if (!orgId) throw errors.notFound("Agent", "agentId");
  let access: OrgAccess;
  try {
    access = await resolveOrgAccess(c, principal, orgId);
  } catch (error) {
    if (error instanceof ApiError && error.type === "not_found_error") throw errors.notFound("Agent", "agentId");
    throw error;
  }
  const agent = await findAgent(db.kysely, orgId, agentId);
  if (!agent || !canSeeAgent(access, agentId)) throw errors.notFound("Agent", "agentId");
  requirePermission(access, "chat");
  return { agent, access };
}

/** Validates and sets up a chat run: auth, agent, quota, concurrency, conversation, context. */
export async function prepareRun(c: Context<AppEnv>, agentId: string, body: ChatBody): Promise<PreparedRun> {
  const { agent, access } = await resolveAgent(c, c.var.principal as Principal, agentId);
  return startRun(c.var.services, { access, agent, message: body.message, conversationId: body.conversationId });
}

export interface StartRunOptions {
  /** Who the run acts for (a subagent's run acts for its parent's caller). */
  access: OrgAccess;
  agent: AgentsTable;
  message: string;
  conversationId?: string;
  /** Set for a subagent's run. Such a run takes no concurrency slot (its parent holds one) and cannot spawn. */
  parentRunId?: string;
}

/** Sets up a run without an HTTP context: quota, concurrency, conversation, context, tools, the run row. */
export async function startRun(services: Services, options: StartRunOptions): Promise<PreparedRun> {
  const { db, config } = services;
  const { agent, access } = options;
  const principal = access.principal;
  const body = { message: options.message, conversationId: options.conversationId };
  const parentRunId = options.parentRunId ?? null;
  const org = await findOrg(db.kysely, access.orgId);
  if (!org) throw errors.notFound("Agent", "agentId");
  const plan = effectivePlan(org, services.plans, Date.now());

  const model = await services.models.resolve(agent.model);
  if (!model) throw errors.invalid(`The agent's model "${agent.model}" is not in this deployment's model catalogue.`, "model");
  const provider = services.providers[model.provider];
  if (!model.available || !provider) throw unavailableModel(services, model);

  await services.quota.assertCanStart(access.orgId);

  let conversationId = body.conversationId;
  if (conversationId && !(await findConversation(db.kysely, access.orgId, agent.id, conversationId))) {
    throw errors.notFound("Conversation", "conversationId");
  }

  const who = principal.kind === "key" ? `key:${principal.keyId}` : `user:${principal.userId}`;
  const release = parentRunId
    ? () => {}
    : await services.runSlots.acquire([
        [who, config.limits.concurrentRunsPerKey],
        [`org:${access.orgId}`, Math.min(plan.maxConcurrentRuns, config.limits.concurrentRunsPerOrg)],
      ]);
  if (!release) throw errors.rateLimited(1, "Too many concurrent runs for this key or organization; retry when one finishes.");

  try {
    const now = Date.now();
    const isNew = !conversationId;
    conversationId ??= newId("conv");
    const enabled = JSON.parse(agent.enabled_tools) as string[];
    const runId = newId("run");
    const children = { runs: 0, usage: emptyUsage(), cost: 0 };
    let prepared: PreparedRun | undefined;
    const tools = await toolsOfRun(services, enabled, plan.toolTier, access.orgId, parentRunId, () => prepared as PreparedRun);
    const memory = createMemoryStore(db.kysely, access.orgId, agent.id);
    const [skills, notes, matches, stored] = await Promise.all([
      listAgentSkills(db.kysely, access.orgId, agent.id),
      memory.notes(),
      memory.matchingHistory(body.message, 5),
      isNew ? [] : loadMessages(db.kysely, access.orgId, conversationId),
    ]);
    const memoryTools = tools.some((t) => t.name === "memory_read" || t.name === "memory_write");
    const { system, userContext } = composeContext(buildSystemPrompt(agent.system_prompt, skills), notes, matches, { memoryTools });
    const budget =
      model.contextWindow - Math.min(model.maxOutputTokens, MAX_OUTPUT_TOKENS) - estimateTokens(promptText(system)) - estimateTokens(body.message) - 2_000;
    const history = fitHistory(
      stored.map((m) => m.message),
      Math.max(0, budget),
    );
    // Before anything is written: a run whose first call does not fit the plan is a 402, not a stream that fails.
    const specs = tools.map((t) => ({ name: t.name, description: t.description, inputSchema: toJsonSchema(t.input) }));
    await services.quota.assertCallFits(access.orgId, estimateFirstCallTokens(system, history, body.message, userContext, specs));
    if (isNew) {
      await insertConversation(db.kysely, {
        id: conversationId,
        org_id: access.orgId,
        agent_id: agent.id,
        title: body.message.replace(/\s+/g, " ").trim().slice(0, 80),
        created_at: now,
        updated_at: now,
      });
    }
    await insertRun(db.kysely, {
      id: runId,
      org_id: access.orgId,
      agent_id: agent.id,
      conversation_id: conversationId,
      parent_run_id: parentRunId,
      api_key_id: principal.kind === "key" ? principal.keyId : null,
      user_id: principal.kind === "user" ? principal.userId : null,
      model: model.id,
      status: "running",
      input_tokens: 0,
      output_tokens: 0,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      cost: 0,
      iterations: 0,
      tool_calls: 0,
      started_at: now,
      updated_at: now,
      ended_at: null,
    });
    prepared = {
      runId,
      conversationId,
      access,
      agent,
      model,
      provider,
      system,
      userContext,
      history,
      tools,
      message: body.message,
      startedAt: now,
      release,
      parentRunId,
      children,
    };
    return prepared;
  } catch (error) {
    release();
    throw error;
  }
}

/** The 503 for a model whose provider is not set up here; names the variables that would set it up. */
function unavailableModel(services: Services, model: ModelInfo): ApiError {
  const fix =
    model.provider === "anthropic"
      ? "Set ANTHROPIC_API_KEY, or choose a model of a configured provider (GET /v1/models lists them with `available`)."
      : model.local
        ? `Its server (OPENAI_BASE_URL ${services.models.localServer}) no longer lists it: load it there again, or choose another model.`
        : "Set OPENAI_BASE_URL to an OpenAI-compatible server (Ollama: http://localhost:11434/v1) or OPENAI_API_KEY for OpenAI, or choose a model of a configured provider.";
  return new ApiError("provider_error", `The agent's model "${model.id}" is not available on this deployment. ${fix}`, { status: 503 });
}

/**
 * The tools of one run: the registry's (enabled ∩ plan ∩ configured), with `mcp_call` expanded
 * into the org's MCP server tools and `subagent` bound to this run. A subagent's run gets no
 * `subagent` tool: depth is limited to one.
 */
async function toolsOfRun(
  services: Services,
  enabled: readonly string[],
  tier: ToolTier,
  orgId: string,
  parentRunId: string | null,
  self: () => PreparedRun,
): Promise<ToolDefinition<any>[]> {
  const out: ToolDefinition<any>[] = [];
  for (const tool of services.tools.forRun(enabled, tier)) {
    if (tool.name === "mcp_call") out.push(...(await services.mcp.toolsForRun(orgId)));
    else if (tool.name === "subagent") {
      if (!parentRunId) out.push(createSubagentTool({ spawn: (input, context) => spawnSubagent(services, self(), input, context) }));
    } else out.push(tool);
  }
  return out;
}

/**
 * Runs a subagent to its end as a separate run (own conversation, own usage record linked by
 * parent_run_id, same quota hooks) and hands its text back to the parent as the tool's result.
 */
async function spawnSubagent(services: Services, parent: PreparedRun, input: SubagentInput, context: ToolContext): Promise<ToolOutput> {
  const agent = input.agentId ? await findAgent(services.db.kysely, parent.access.orgId, input.agentId) : parent.agent;
  if (!agent || !canSeeAgent(parent.access, agent.id)) return { content: `No agent "${input.agentId}" in this organization.`, isError: true };
  let child: PreparedRun;
  try {
    child = await startRun(services, { access: parent.access, agent, message: input.task, parentRunId: parent.runId });
  } catch (error) {
    return { content: `The subagent could not start: ${(error as Error).message}`, isError: true };
  }
  const result = await executeRun(services, child, () => {}, context.signal);
  parent.children.runs++;
  parent.children.usage = addUsage(parent.children.usage, result.usage);
  parent.children.cost += result.cost;
  if (result.stopReason === "error") return { content: `The subagent failed: ${result.error?.message ?? "unknown error"}`, isError: true };
  if (result.stopReason === "cancelled") return { content: "The subagent was cancelled before it finished.", isError: true };
  const note = result.stopReason === "max_iterations" ? "\n[the subagent stopped at its iteration limit]" : "";
  return { content: `${result.text || "(the subagent answered with no text)"}${note}` };
}

const statusOf = (stop: StopReason): RunStatus => (stop === "end_turn" ? "completed" : stop);

/**
 * Executes a prepared run to its end, emitting events as they happen, then records its usage
 * exactly once, whatever the ending (completed, max iterations, error, cancelled). Never throws.
 */
export async function executeRun(services: Services, run: PreparedRun, emit: (event: RunEvent) => void, signal: AbortSignal): Promise<RunResult> {
  const { db, logger, config } = services;
  const orgId = run.access.orgId;
  const appender = new MessageAppender(db.kysely, orgId, run.conversationId, run.runId);
  const heartbeat = setInterval(() => {
    heartbeatRun(db.kysely, run.runId, Date.now()).catch(() => {});
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let totals: RunTotals = { usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, cost: 0, iterations: 0, toolCalls: 0 };
  let result: RunResult;
  try {
    result = await runAgent({
      runId: run.runId,
      orgId,
      agentId: run.agent.id,
      conversationId: run.conversationId,
      provider: run.provider,
      model: { providerModel: run.model.providerModel, maxOutputTokens: Math.min(run.model.maxOutputTokens, MAX_OUTPUT_TOKENS) },
      costOf: (usage) => costOf(run.model, usage),
      system: run.system,
      history: run.history,
      userMessage: run.message,
      userContext: run.userContext,
      temperature: run.agent.temperature,
      maxIterations: run.agent.max_iterations,
      tools: run.tools,
      toolOutputChars: config.limits.toolOutputChars,
      signal,
      quota: {
        reserveCall: (input, maxOutput) => services.quota.reserveCall(orgId, input, maxOutput),
        settle: (reserved, actual) => services.quota.settle(orgId, reserved, actual),
      },
      emit,
      onMessage: (message) => appender.append(message),
      onProgress: async (t) => {
        totals = t;
        await saveRunProgress(db.kysely, run.runId, t, Date.now());
      },
    });
  } catch (error) {
    // A bug or a database failure inside the loop: the run still ends and is billed for what it used.
    logger.error("run failed", { runId: run.runId, error });
    result = { ...totals, text: "", stopReason: "error", error: { type: "api_error", message: "The run failed on our side." } };
  } finally {
    clearInterval(heartbeat);
    run.release();
    await services.tools.endRun(run.runId);
  }
  await finishRun(services, run, result, logger);
  if (result.error) emit({ event: "error", data: { error: result.error } });
  // The figures include the subagents' usage (each also has its own usage record).
  const shown = addUsage(result.usage, run.children.usage);
  emit({
    event: "done",
    data: {
      iterations: result.iterations,
      toolCalls: result.toolCalls,
      tokens: totalTokens(shown),
      cost: result.cost + run.children.cost,
      conversationId: run.conversationId,
      runId: run.runId,
      inputTokens: shown.inputTokens,
      outputTokens: shown.outputTokens,
      cacheReadTokens: shown.cacheReadTokens,
      cacheWriteTokens: shown.cacheWriteTokens,
      stopReason: result.stopReason,
    },
  });
  return result;
}

/** Ends the run row and writes its usage record (once), then the HISTORY entry of the turn. */
async function finishRun(services: Services, run: PreparedRun, result: RunResult, logger: Logger): Promise<void> {
  const { db } = services;
  const now = Date.now();
  const status = statusOf(result.stopReason);
  try {
    await db.kysely.transaction().execute(async (trx) => {
      if (!(await endRun(trx, run.runId, status, result, now))) return;
      await insertUsageRecord(trx, {
        id: newId("usg"),
        org_id: run.access.orgId,
        agent_id: run.agent.id,
        agent_name: run.agent.name,
        conversation_id: run.conversationId,
        run_id: run.runId,
        parent_run_id: run.parentRunId,
        api_key_id: run.access.principal.kind === "key" ? run.access.principal.keyId : null,
        user_id: run.access.principal.kind === "user" ? run.access.principal.userId : null,
        model: run.model.id,
        input_tokens: result.usage.inputTokens,
        output_tokens: result.usage.outputTokens,
        cache_read_tokens: result.usage.cacheReadTokens,
        cache_write_tokens: result.usage.cacheWriteTokens,
        tokens: totalTokens(result.usage),
        cost: result.cost,
        iterations: result.iterations,
        tool_calls: result.toolCalls,
        status,
        duration_ms: now - run.startedAt,
        created_at: now,
      });
    });
  } catch (error) {
    // The run row still says "running": the recovery sweep records its usage from the counters.
    logger.error("recording run usage failed; recovery will retry", { runId: run.runId, error });
  }
  try {
    await touchConversation(db.kysely, run.access.orgId, run.conversationId, now);
    // A subagent's delegated task is not a conversation with the user: it stays out of HISTORY.
    if (!run.parentRunId && (result.stopReason === "end_turn" || result.stopReason === "max_iterations")) {
      await createMemoryStore(db.kysely, run.access.orgId, run.agent.id).appendHistory(run.conversationId, historyEntry(run.message, result.text));
    }
  } catch (error) {
    logger.warn("updating conversation after run failed", { runId: run.runId, error });
  }
}
