/**
 * The runs service: the one way a run starts (chat, OpenAI-compatible surface, MCP, schedules,
 * subagents), is followed, cancelled, taken over after a crash and dispatched from the queue.
 * It knows nothing of HTTP: callers hand it an `OrgAccess` and get rows, results and events.
 *
 *   start ─┬─ foreground: slots now (429 without) → row `running` → execute here, events to the caller
 *          └─ background: row `queued` → dispatch (here now, or any gateway later) → execute
 *   sweep: orphaned runs (lease lapsed) → background: taken over and continued; foreground: interrupted
 */
import { hostname } from "node:os";
import type { AgentsTable, RunsTable } from "../../db/schema";
import type { OrgAccess } from "../../http/context";
import { ApiError, errors } from "../../http/errors";
import { canSeeAgent, permissionsOfRole, permissionsOfScopes, requirePermission } from "../../http/permissions";
import type { Scope } from "../../http/context";
import { newId } from "../../lib/ids";
import type { SequencedEvent } from "../../runtime/events";
import type { RunResult } from "../../runtime/loop";
import { addUsage } from "../../runtime/models/retry";
import type { ChatMessage } from "../../runtime/models/types";
import { createSubagentTool, type SubagentInput } from "../../runtime/tools/subagent";
import type { ToolContext, ToolOutput } from "../../runtime/tools/types";
import { findAgent } from "../agents/repository";
import { findRole } from "../orgs/repository";
import { canCancelRun, canSeeRun } from "./access";
import type { RunBus } from "./bus";
import {
  type ExecutableRun,
  type RunDeps,
  acquireRunSlots,
  buildRunContext,
  assertFirstCallFits,
  conversationOf,
  insertRunRecord,
  insertStartingRunRecord,
  planOf,
  resolveModel,
} from "./context";
import { closingEvents, endRunRecorded } from "./ending";
import { pruneRunEvents, readRunEvents } from "./event-log";
import { RunExecutor } from "./executor";
import { type RunObject, serializeRun } from "./serialize";
import { pendingCallsOf } from "../approvals/repository";
import {
  type RunFilter,
  claimRun,
  countQueuedRuns,
  findOrphanedRuns,
  findQueuedRuns,
  findRun,
  findRunsOfOwners,
  isLive,
  listRuns,
  requestCancel,
  requeueWaitingRun,
  runningOwners,
  totalsOf,
} from "./repository";

export interface RunsConfig {
  /** A gateway that stops renewing its claim on a run for this long is taken to be gone. */
  leaseMs: number;
  /** Queued background runs per org; more are refused with 429. */
  maxQueuedPerOrg: number;
  /** Event logs of ended runs are kept this long. */
  eventsRetentionMs: number;
  /** Events a follower reads per query. */
  followPage: number;
}

export interface StartRequest {
  access: OrgAccess;
  agent: AgentsTable;
  message: string;
  conversationId?: string;
  background?: boolean;
  scheduleId?: string;
  /** The caller's system instructions for this run, added after the agent's prompt, skills and memory. */
  instructions?: string;
  /** Turns the caller supplies before `message` (after the conversation's own history). */
  prelude?: ChatMessage[];
}

/** A foreground run whose checks passed and whose row exists; `execute` runs it here. */
export interface PendingRun {
  row: RunsTable;
  execute(listener: (event: SequencedEvent) => void, signal: AbortSignal): Promise<RunResult>;
}

type EndCondition = Parameters<typeof endRunRecorded>[6];

const INTERRUPTED = {
  type: "api_error" as const,
  message: "The run was interrupted: the gateway running it stopped. Runs started with \"background\": true continue on another gateway instead.",
};

export class RunsService {
  readonly executor: RunExecutor;
  private timers: NodeJS.Timeout[] = [];
  private dispatching = false;
  private followers = new Map<string, number>();

  constructor(
    private readonly deps: RunDeps & { bus: RunBus; shutdown: AbortSignal },
    readonly settings: RunsConfig,
  ) {
    this.executor = new RunExecutor(deps, settings.leaseMs);
  }

  // ── starting ──────────────────────────────────────────────────────────────────────────────

  /**
   * Checks and creates a foreground run (the caller executes it and receives its events). Every
   * refusal happens here, before any response: model (400/503), quota (402), conversation (404),
   * concurrency (429).
   */
  async startForeground(request: StartRequest): Promise<PendingRun> {
    const { access, agent } = request;
    requirePermission(access, "chat");
    await resolveModel(this.deps, agent);
    const plan = await planOf(this.deps, access.orgId);
    await this.deps.quota.assertCanStart(access.orgId);
    const conversation = await conversationOf(this.deps, access.orgId, agent.id, request.conversationId);
    const release = await acquireRunSlots(this.deps, access, plan);
    if (!release) throw errors.rateLimited(1, "Too many concurrent runs for this key or organization; retry when one finishes.", "concurrency_limit_reached");
    try {
      const row = this.newRow(request, conversation.id, "running");
      const run = await buildRunContext(this.deps, {
        row,
        access,
        agent,
        plan,
        newConversation: conversation.isNew,
        bindSubagent: (self) => this.subagentTool(self),
      });
      // Before anything is written: a run whose first call cannot fit the plan is a 402, not a stream that fails.
      await assertFirstCallFits(this.deps, run);
      await insertStartingRunRecord(this.deps, run, conversation.isNew ? { agentId: agent.id, message: request.message } : null);
      return {
        row,
        execute: async (listener, signal) => {
          let seen = 0;
          let text = "";
          const relay = (event: SequencedEvent) => {
            seen = event.seq;
            if (event.event === "text") text += event.data.text;
            listener(event);
          };
          const result = await this.executor.execute(run, { listener: relay, signal, release });
          if (result) return result;
          // It stopped here without ending: waiting for approvals (then it is durable and continues
          // on any gateway once decided), or taken over elsewhere. The caller keeps receiving its
          // events until it ends or the caller leaves; leaving no longer cancels it.
          for await (const event of this.follow(row, seen, signal)) relay(event);
          const now = (await findRun(this.deps.db.kysely, access.orgId, row.id)) ?? row;
          const error = now.error ? (JSON.parse(now.error) as RunResult["error"]) : undefined;
          return { ...totalsOf(now), text, stopReason: (now.stop_reason as RunResult["stopReason"] | null) ?? "cancelled", error };
        },
      };
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * Creates a background run (queued) and tries to start it on this gateway at once. Refused with
   * 429 when the org already has `maxQueuedPerOrg` runs waiting.
   */
  async startBackground(request: StartRequest): Promise<RunsTable> {
    const { access, agent } = request;
    requirePermission(access, "chat");
    await resolveModel(this.deps, agent);
    await planOf(this.deps, access.orgId);
    await this.deps.quota.assertCanStart(access.orgId);
    if ((await countQueuedRuns(this.deps.db.kysely, access.orgId)) >= this.settings.maxQueuedPerOrg) {
      throw errors.rateLimited(
        5,
        `This organization already has ${this.settings.maxQueuedPerOrg} background runs waiting for a slot; retry when some have started.`,
        "concurrency_limit_reached",
      );
    }
    // Whether its first call fits the plan is known only once it starts (then it ends with quota_exceeded_error).
    const conversation = await conversationOf(this.deps, access.orgId, agent.id, request.conversationId);
    const row = this.newRow(request, conversation.id, "queued");
    await insertRunRecord(this.deps, row, conversation.isNew ? { agentId: agent.id, message: request.message } : null);
    await this.tryStartQueued(row).catch((error) => this.deps.logger.warn("starting a background run failed; it stays queued", { runId: row.id, error }));
    return (await findRun(this.deps.db.kysely, access.orgId, row.id)) ?? row;
  }

  private newRow(request: StartRequest, conversationId: string, status: "running" | "queued", parent?: RunsTable): RunsTable {
    const { access, agent } = request;
    const now = Date.now();
    const principal = access.principal;
    const running = status === "running";
    return {
      id: newId("run"),
      org_id: access.orgId,
      agent_id: agent.id,
      conversation_id: conversationId,
      parent_run_id: parent?.id ?? null,
      api_key_id: principal.kind === "key" ? principal.keyId : null,
      user_id: principal.kind === "user" ? principal.userId : null,
      schedule_id: request.scheduleId ?? null,
      model: agent.model,
      status,
      background: request.background ? 1 : 0,
      input: request.message,
      instructions: request.instructions?.trim() ? request.instructions : null,
      prelude: request.prelude?.length ? JSON.stringify(request.prelude) : null,
      stop_reason: null,
      error: null,
      input_tokens: 0,
      output_tokens: 0,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      cost: 0,
      iterations: 0,
      tool_calls: 0,
      last_event_seq: 0,
      lease_owner: running ? this.executor.owner : null,
      lease_expires_at: running ? now + this.settings.leaseMs : null,
      cancel_requested_at: null,
      events_expired_at: null,
      created_at: now,
      started_at: running ? now : null,
      updated_at: now,
      ended_at: null,
    };
  }

  /** The `subagent` tool bound to a run: each call is a separate run (own conversation and usage record). */
  private subagentTool(self: () => ExecutableRun) {
    return createSubagentTool({ spawn: (input, context) => this.spawnSubagent(self(), input, context) });
  }

  /**
   * Runs a subagent to its end as a child run (no concurrency slot: its parent holds one; no
   * `subagent` tool of its own) and hands its text back to the parent as the tool's result.
   */
  private async spawnSubagent(parent: ExecutableRun, input: SubagentInput, context: ToolContext): Promise<ToolOutput> {
    const agent = input.agentId ? await findAgent(this.deps.db.kysely, parent.access.orgId, input.agentId) : parent.agent;
    if (!agent || !canSeeAgent(parent.access, agent.id)) {
      return { content: `No agent "${input.agentId}" in this organization.`, isError: true };
    }
    let child: ExecutableRun;
    try {
      await this.deps.quota.assertCanStart(parent.access.orgId);
      const conversation = await conversationOf(this.deps, parent.access.orgId, agent.id, undefined);
      const row = this.newRow({ access: parent.access, agent, message: input.task }, conversation.id, "running", parent.row);
      child = await buildRunContext(this.deps, { row, access: parent.access, agent, plan: parent.plan, newConversation: true });
      await assertFirstCallFits(this.deps, child);
      await insertRunRecord(this.deps, row, { agentId: agent.id, message: input.task });
    } catch (error) {
      return { content: `The subagent could not start: ${(error as Error).message}`, isError: true };
    }
    const result = (await this.executor.execute(child, { signal: context.signal, release: () => {} })) ?? {
      ...totalsOf(child.row),
      text: "",
      stopReason: "cancelled" as const,
    };
    parent.children.runs++;
    parent.children.usage = addUsage(parent.children.usage, result.usage);
    parent.children.cost += result.cost;
    if (result.stopReason === "error") return { content: `The subagent failed: ${result.error?.message ?? "unknown error"}`, isError: true };
    if (result.stopReason === "cancelled") return { content: "The subagent was cancelled before it finished.", isError: true };
    const note = result.stopReason === "max_iterations" ? "\n[the subagent stopped at its iteration limit]" : "";
    return { content: `${result.text || "(the subagent answered with no text)"}${note}` };
  }

  // ── dispatch and takeover ─────────────────────────────────────────────────────────────────

  /**
   * What the principal that started a run (or created a schedule) may do now, for a run that
   * starts or continues without its client: the key's current scopes, or the user's current role. Null when the key was
   * revoked or expired, or the user left the org.
   */
  async accessOf(row: Pick<RunsTable, "org_id" | "api_key_id" | "user_id">): Promise<OrgAccess | null> {
    const db = this.deps.db.kysely;
    if (row.api_key_id) {
      const key = await db.selectFrom("api_keys").selectAll().where("org_id", "=", row.org_id).where("id", "=", row.api_key_id).executeTakeFirst();
      if (!key || key.revoked_at !== null || (key.expires_at !== null && key.expires_at <= Date.now())) return null;
      const scopes = JSON.parse(key.scopes) as Scope[];
      const agentIds = key.agent_ids ? (JSON.parse(key.agent_ids) as string[]) : null;
      return {
        orgId: row.org_id,
        principal: { kind: "key", keyId: key.id, orgId: row.org_id, scopes, agentIds, expiresAt: key.expires_at },
        role: null,
        permissions: permissionsOfScopes(scopes),
        agentIds,
      };
    }
    if (row.user_id) {
      const role = await findRole(db, row.org_id, row.user_id);
      const user = await db.selectFrom("users").select("email").where("id", "=", row.user_id).executeTakeFirst();
      if (!role || !user) return null;
      return { orgId: row.org_id, principal: { kind: "user", userId: row.user_id, email: user.email, sessionId: "" }, role, permissions: permissionsOfRole(role), agentIds: null };
    }
    return null;
  }

  /**
   * Builds the context of a run this gateway has just claimed, to start or continue it without its
   * client. A run that can no longer run (its agent deleted, its model unavailable) ends as an
   * error here, recorded like any other ending; returns null then.
   */
  private async contextWithoutClient(row: RunsTable, access: OrgAccess): Promise<ExecutableRun | null> {
    const fail = async (message: string) => {
      await this.endUnowned(row, "error", { type: "api_error", message }, { owner: this.executor.owner });
      return null;
    };
    const agent = await findAgent(this.deps.db.kysely, row.org_id, row.agent_id);
    if (!agent || !canSeeAgent(access, agent.id)) return fail("The run's agent no longer exists.");
    try {
      const plan = await planOf(this.deps, row.org_id);
      return await buildRunContext(this.deps, { row, access, agent, plan, bindSubagent: row.parent_run_id ? undefined : (self) => this.subagentTool(self) });
    } catch (error) {
      if (error instanceof ApiError) return fail(error.message);
      throw error;
    }
  }

  /**
   * The access a run without its client acts with, or null after ending the run as an error when
   * its starter's access is gone.
   */
  private async accessOrEnd(row: RunsTable, condition: EndCondition): Promise<OrgAccess | null> {
    const access = await this.accessOf(row);
    if (!access) {
      await this.endUnowned(row, "error", { type: "api_error", message: "The API key or user that started this run no longer has access to the organization." }, condition);
    }
    return access;
  }

  /** Claims a run and executes it here with the slots it got; false when another gateway won the claim or it could not be prepared. */
  private async claimAndExecute(row: RunsTable, access: OrgAccess, release: () => void, from: "queued" | "orphaned"): Promise<boolean> {
    const now = Date.now();
    if (!(await claimRun(this.deps.db.kysely, row.org_id, row.id, this.executor.owner, now, now + this.settings.leaseMs, from))) {
      release();
      return false;
    }
    const claimed: RunsTable = { ...row, status: "running", lease_owner: this.executor.owner, lease_expires_at: now + this.settings.leaseMs, started_at: row.started_at ?? now };
    const run = await this.contextWithoutClient(claimed, access).catch((error) => {
      this.deps.logger.error("preparing a run failed", { runId: row.id, error });
      return null;
    });
    if (!run) {
      release();
      return false;
    }
    if (from === "orphaned") this.deps.logger.warn("continuing a run whose gateway stopped", { runId: row.id, previousOwner: row.lease_owner });
    void this.executor.execute(run, { release, resumed: from === "orphaned" || run.start.kind === "resume" }).then(() => this.dispatchSoon());
    return true;
  }

  /** Starts a queued run here if a slot is free and this gateway wins the claim. */
  async tryStartQueued(row: RunsTable): Promise<boolean> {
    if (this.executor.isClosing) return false;
    const access = await this.accessOrEnd(row, { unowned: "queued_or_waiting" });
    if (!access) return false;
    const plan = await planOf(this.deps, row.org_id).catch(() => null);
    if (!plan) return false;
    try {
      await this.deps.quota.assertCanStart(row.org_id);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      await this.endUnowned(row, "error", { type: "quota_exceeded_error", message: error.message }, { unowned: "queued_or_waiting" });
      return false;
    }
    const release = await acquireRunSlots(this.deps, access, plan);
    if (!release) return false;
    return this.claimAndExecute(row, access, release, "queued");
  }

  /** Continues a background run whose gateway died, or ends a foreground one as interrupted. */
  private async takeOver(row: RunsTable): Promise<void> {
    if (!row.background) {
      await this.endUnowned(row, "interrupted", INTERRUPTED, { unowned: "lease_expired" });
      return;
    }
    const access = await this.accessOrEnd(row, { unowned: "lease_expired" });
    if (!access) return;
    const plan = await planOf(this.deps, row.org_id).catch(() => null);
    const release = plan ? await acquireRunSlots(this.deps, access, plan) : null;
    // No slot free here now: the next sweep (here or on another gateway) tries again.
    if (!release) return;
    await this.claimAndExecute(row, access, release, "orphaned");
  }

  /** Ends a run nobody executes (queued, waiting, orphaned, or just claimed here) and records it. */
  private async endUnowned(
    row: RunsTable,
    status: "cancelled" | "interrupted" | "error",
    error: { type: "api_error" | "quota_exceeded_error"; message: string } | null,
    condition: EndCondition,
  ): Promise<boolean> {
    const fresh = (await findRun(this.deps.db.kysely, row.org_id, row.id)) ?? row;
    const totals = totalsOf(fresh);
    const stopReason = status === "cancelled" ? "cancelled" : "error";
    const events = closingEvents(fresh, fresh.last_event_seq, totals, stopReason, error);
    const agent = await this.deps.db.kysely.selectFrom("agents").select("name").where("org_id", "=", row.org_id).where("id", "=", row.agent_id).executeTakeFirst();
    const lastEventSeq = events[events.length - 1].seq;
    const ended = await endRunRecorded(
      this.deps.db.kysely,
      fresh,
      agent?.name ?? "(deleted agent)",
      { status, stopReason, error, totals, lastEventSeq },
      events,
      Date.now(),
      condition,
      this.executor.endedHooks,
    );
    if (ended) this.deps.bus.publish({ kind: "ended", runId: row.id, seq: lastEventSeq });
    return ended;
  }

  // ── the sweep ─────────────────────────────────────────────────────────────────────────────

  /**
   * Takes over what a previous process of this gateway left (so a restart serves nothing stale),
   * then starts the periodic work: takeover of orphaned runs, dispatch of queued ones, log retention.
   */
  async start(): Promise<void> {
    await this.sweepOrphans();
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const timer = setInterval(() => fn().catch((error) => this.deps.logger.warn("run sweep failed", { error })), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(Math.min(5_000, Math.max(250, Math.floor(this.settings.leaseMs / 3))), () => this.sweepOrphans());
    every(1_000, () => this.dispatch());
    every(3_600_000, () => this.pruneEvents());
    this.dispatchSoon();
    setImmediate(() => this.pruneEvents().catch((error) => this.deps.logger.warn("run event retention failed", { error })));
  }

  /**
   * Owners of running runs that are gateway processes of this host which no longer exist. Only
   * on SQLite, whose gateways all share one host: there a restart takes over at once instead of
   * waiting for the leases to lapse.
   */
  private async deadLocalOwners(): Promise<string[]> {
    if (this.deps.db.dialect !== "sqlite") return [];
    const host = hostname();
    return (await runningOwners(this.deps.db.kysely)).filter((owner) => {
      const [ownerHost, pid] = owner.split("/");
      if (ownerHost !== host || owner === this.executor.owner) return false;
      if (Number(pid) === process.pid) return true;
      try {
        process.kill(Number(pid), 0);
        return false;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === "ESRCH";
      }
    });
  }

  async sweepOrphans(): Promise<number> {
    if (this.executor.isClosing) return 0;
    const db = this.deps.db.kysely;
    const dead = await this.deadLocalOwners();
    if (dead.length > 0) {
      // Their leases are void: mark them lapsed so the conditional claims below may take them.
      await db.updateTable("runs").set({ lease_expires_at: 0 }).where("status", "=", "running").where("lease_owner", "in", dead).execute();
    }
    const orphans = [...(await findOrphanedRuns(db, Date.now())), ...(dead.length ? await findRunsOfOwners(db, dead) : [])];
    const seen = new Set<string>();
    for (const row of orphans) {
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      await this.takeOver(row).catch((error) => this.deps.logger.warn("taking over a run failed", { runId: row.id, error }));
    }
    return seen.size;
  }

  private dispatchSoon(): void {
    setImmediate(() => this.dispatch().catch((error) => this.deps.logger.warn("run dispatch failed", { error })));
  }

  /** Starts queued runs while slots are free: the oldest first, one per org per round so no org starves another. */
  async dispatch(): Promise<void> {
    if (this.dispatching || this.executor.isClosing) return;
    this.dispatching = true;
    try {
      const queued = await findQueuedRuns(this.deps.db.kysely);
      const tried = new Set<string>();
      for (const row of queued) {
        const key = `${row.org_id}:${row.api_key_id ?? row.user_id}`;
        if (tried.has(key)) continue;
        if (!(await this.tryStartQueued(row))) tried.add(key);
      }
    } finally {
      this.dispatching = false;
    }
  }

  async pruneEvents(): Promise<number> {
    const now = Date.now();
    let total = 0;
    for (;;) {
      const n = await pruneRunEvents(this.deps.db.kysely, now - this.settings.eventsRetentionMs, now);
      total += n;
      if (n === 0) break;
    }
    return total;
  }

  // ── reading, following, cancelling ────────────────────────────────────────────────────────

  /** Runs as the API returns them, with their pending approvals (one query, whatever the count). */
  async views(orgId: string, rows: RunsTable[]): Promise<RunObject[]> {
    const waiting = rows.filter((r) => r.status === "requires_action").map((r) => r.id);
    const pending = await pendingCallsOf(this.deps.db.kysely, orgId, waiting);
    return rows.map((row) => serializeRun(row, pending.get(row.id) ?? []));
  }

  async view(row: RunsTable): Promise<RunObject> {
    return (await this.views(row.org_id, [row]))[0];
  }

  /**
   * A waiting run whose calls are all decided goes back to the queue and starts here if a slot is
   * free (else on whichever gateway's dispatch gets to it first). False when it no longer waits.
   */
  async continueWaiting(orgId: string, runId: string): Promise<boolean> {
    const db = this.deps.db.kysely;
    if (!(await requeueWaitingRun(db, orgId, runId, Date.now()))) return false;
    const row = await findRun(db, orgId, runId);
    if (row?.status === "queued") {
      await this.tryStartQueued(row).catch((error) => this.deps.logger.warn("continuing a decided run failed; it stays queued", { runId, error }));
    }
    return true;
  }

  /** A run the principal may see, or 404. */
  async get(access: OrgAccess, runId: string): Promise<RunsTable> {
    const row = await findRun(this.deps.db.kysely, access.orgId, runId);
    if (!row || !canSeeRun(access, row)) throw errors.notFound("Run", "runId");
    return row;
  }

  list(access: OrgAccess, filter: Omit<RunFilter, "orgId" | "agentIds" | "apiKeyId">, page: number, limit: number) {
    const full: RunFilter = { ...filter, orgId: access.orgId, agentIds: access.agentIds };
    // Without read permission a principal sees only the runs it started (a chat key's own).
    if (!access.permissions.has("read")) {
      if (access.principal.kind !== "key") return Promise.resolve({ rows: [], total: 0 });
      full.apiKeyId = access.principal.keyId;
    }
    if (full.agentIds?.length === 0) return Promise.resolve({ rows: [], total: 0 });
    return listRuns(this.deps.db.kysely, full, page, limit);
  }

  /**
   * Cancels a queued, running or waiting run (409 once ended). A queued or waiting run ends here
   * at once; a running one is stopped by the gateway executing it (told through the bus, and
   * through the row in case the signal is lost), which aborts its model call. Waits up to
   * `waitMs` for the run to end and returns it as it then is.
   */
  async cancel(access: OrgAccess, runId: string, waitMs = 5_000): Promise<RunsTable> {
    const db = this.deps.db.kysely;
    const row = await this.get(access, runId);
    if (!canCancelRun(access, row)) throw errors.forbidden("Only a principal with write permission, or the one that started the run, may cancel it.");
    if (!isLive(row.status)) throw errors.conflict(`The run has already ended (${row.status}).`, "runId", "run_ended");
    if (row.status !== "running" && (await this.endUnowned(row, "cancelled", null, { unowned: "queued_or_waiting" }))) {
      return (await findRun(db, access.orgId, runId)) ?? row;
    }
    await requestCancel(db, access.orgId, runId, Date.now());
    if (!this.executor.cancelLocal(runId)) this.deps.bus.publish({ kind: "cancel", runId });
    // Its gateway is gone: nobody else will end it.
    if (row.lease_expires_at !== null && row.lease_expires_at < Date.now()) await this.endUnowned(row, "cancelled", null, { unowned: "lease_expired" });
    const deadline = Date.now() + waitMs;
    let current = row;
    while (Date.now() < deadline) {
      current = (await findRun(db, access.orgId, runId)) ?? current;
      if (!isLive(current.status)) break;
      await this.waitForSignal(runId, ["ended"], Math.min(250, deadline - Date.now()));
    }
    return current;
  }

  /** Resolves when the bus brings one of `kinds` for the run, or after `ms`. */
  private waitForSignal(runId: string, kinds: string[], ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (value: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener("abort", onAbort);
        resolve(value);
      };
      const onAbort = () => done(false);
      const unsubscribe = this.deps.bus.subscribe(runId, (s) => {
        if (kinds.includes(s.kind)) done(true);
      });
      const timer = setTimeout(() => done(false), Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * The run's events after `after`: from the log (or this gateway's in-memory tail of it), then
   * live as they are logged, until `done`. The log is the source of truth and the cursor only
   * moves forward, so a follower sees every event once, in order, on any gateway. A follower that
   * cannot keep up only falls behind: it never holds the run up.
   */
  async *follow(row: RunsTable, after: number, signal: AbortSignal): AsyncGenerator<SequencedEvent> {
    const { db, bus } = this.deps;
    const count = (this.followers.get(row.id) ?? 0) + 1;
    this.followers.set(row.id, count);
    // Subscribed before the first read: a batch logged between a read and the wait is not missed.
    let pending = false;
    let wake: (() => void) | null = null;
    const unsubscribe = bus.subscribe(row.id, (s) => {
      if (s.kind !== "events" && s.kind !== "ended") return;
      pending = true;
      wake?.();
    });
    const nextSignal = () =>
      new Promise<boolean>((resolve) => {
        const done = (value: boolean) => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          wake = null;
          resolve(value);
        };
        const onAbort = () => done(false);
        const timer = setTimeout(() => done(false), 1_000);
        signal.addEventListener("abort", onAbort, { once: true });
        wake = () => done(true);
      });
    let cursor = after;
    // An ended run whose log the cursor has reached has nothing more to send: check at once.
    let idle = !isLive(row.status);
    try {
      while (!signal.aborted) {
        pending = false;
        const page = this.executor.localEvents(row.id, cursor) ?? (await readRunEvents(db.kysely, row.org_id, row.id, cursor, this.settings.followPage));
        for (const event of page) {
          if (signal.aborted) return;
          yield event;
          cursor = event.seq;
          if (event.event === "done") return;
        }
        if (page.length >= this.settings.followPage || pending) continue;
        if (page.length === 0 && idle) {
          // Nothing new for a while: make sure the run has not ended (or been pruned) without a `done` we could see.
          const current = await findRun(db.kysely, row.org_id, row.id);
          if (!current || current.events_expired_at !== null) return;
          if (!isLive(current.status) && cursor >= current.last_event_seq) return;
        }
        idle = !(pending || (await nextSignal()));
      }
    } finally {
      unsubscribe();
      const left = (this.followers.get(row.id) ?? 1) - 1;
      if (left <= 0) this.followers.delete(row.id);
      else this.followers.set(row.id, left);
    }
  }

  /**
   * The signals between gateways, for a surface that correlates its own requests with the runs
   * they started (the MCP server relays a client's cancellation to the gateway running the call).
   */
  get bus(): RunBus {
    return this.deps.bus;
  }

  /** Followers of one run on this gateway. */
  followersOf(runId: string): number {
    return this.followers.get(runId) ?? 0;
  }

  /** Stops the sweep, hands off or cancels what runs here, closes the bus. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.executor.stopAll();
    await this.deps.bus.close();
  }

}
