/**
 * Executes runs this gateway holds: the ReAct loop with its events numbered and logged, the
 * lease kept alive, cancellation from anywhere, and the ending recorded exactly once.
 *
 * A run is held through a lease (`lease_owner`, `lease_expires_at`) renewed every third of its
 * length by a conditional statement, one for all the runs this gateway executes (per 500). A
 * gateway that loses the lease (another took the run over after this one stalled) stops at once
 * and writes nothing more. At shutdown a background run is handed off: its events are flushed and
 * its lease released, so a live gateway (or this one after the restart) continues it; a foreground
 * run is cancelled (its client is going away too).
 *
 * A run whose model asks for tools that need a person's approval stops executing here once the
 * turn's other calls are done: it is recorded as `requires_action` (see `suspendRunRecorded`),
 * gives up its lease and slots, and continues from its recorded state on whichever gateway
 * claims it after the decisions (features/approvals).
 */
import { hostname } from "node:os";
import type { Transaction } from "kysely";
import type { Database, RunsTable } from "../../db/schema";
import { randomBase62 } from "../../lib/ids";
import { historyEntry } from "../../runtime/context";
import type { RunEvent, SequencedEvent } from "../../runtime/events";
import type { ChatMessage } from "../../runtime/models/types";
import { type RunResult, type RunTotals, runAgent } from "../../runtime/loop";
import { costOf } from "../../runtime/models/catalogue";
import { touchConversation } from "../conversations/repository";
import { createMemoryStore } from "../memory/store";
import type { RunBus } from "./bus";
import { type ExecutableRun, MAX_OUTPUT_TOKENS, type RunDeps } from "./context";
import { SUBAGENT_APPROVAL_REFUSAL, approvalRequiredFor } from "../approvals/policy";
import { type RunEndedHook, type RunWaitingHook, closingEvents, endRunRecorded, endRunRecordedIn, statusOf, suspendRunRecorded } from "./ending";
import { RunEventLog, RunEventSink } from "./event-log";
import { type RunEnding, renewLeases, saveRunProgress } from "./repository";

/** Flushed events each running run keeps in memory for followers on this gateway. */
const LOCAL_TAIL = 512;

export interface ExecuteOptions {
  /** Receives every event as it is emitted (the chat stream of a foreground run). */
  listener?: (event: SequencedEvent) => void;
  /** Aborting it cancels the run (its client went away, or its parent run was cancelled). */
  signal?: AbortSignal;
  /** Releases the run's concurrency slots once it stops executing here. */
  release: () => void;
  /** The run continues after its gateway stopped: `event: resumed` comes first. */
  resumed?: boolean;
}

interface ActiveRun {
  row: RunsTable;
  controller: AbortController;
  /** Set when the run stops executing here without ending. */
  detached: "lease_lost" | "handoff" | null;
  /** Flushed events, oldest first, at most LOCAL_TAIL. */
  tail: SequencedEvent[];
  finished: Promise<unknown>;
  /** The loop still runs here, so the lease is renewed (not while the ending is recorded). */
  renewing: boolean;
}

/** A run's last model call, recorded with its ending: the quota settlement and the answer. */
interface LastStep {
  message: ChatMessage | null;
  settle: (trx: Transaction<Database>) => Promise<void>;
}

/** What `record` wrote of a run's ending: the events it took from the sink, and the closing ones. */
interface RecordedEnding {
  rest: SequencedEvent[];
  final: SequencedEvent[];
}

/** Leases renewed per statement: well under every database's limit on bound parameters. */
const RENEW_CHUNK = 500;

export class RunExecutor {
  /** This gateway process: host and pid (so a restart on the same host can tell its predecessor is gone), and a random part. */
  readonly owner = `${hostname()}/${process.pid}/${randomBase62(8)}`;
  private readonly active = new Map<string, ActiveRun>();
  /** Work done in the transaction that ends a run (see `onRunEnded`). */
  readonly endedHooks: RunEndedHook[] = [];
  /** Work done in the transaction that makes a run wait for approvals (see `onRunWaiting`). */
  readonly waitingHooks: RunWaitingHook[] = [];
  private closing = false;
  /** Renews the leases of every run executing here (see `renewAll`); runs while any does. */
  private renewTimer: NodeJS.Timeout | null = null;
  /** A renewal pass is running: the next tick is skipped rather than overlapping it (a slow database). */
  private renewalInFlight = false;
  /** The event logs of every run executing here, written together (group commit). */
  private readonly eventLog: RunEventLog;

  constructor(
    private readonly deps: RunDeps & { bus: RunBus; shutdown: AbortSignal },
    readonly leaseMs: number,
  ) {
    this.eventLog = new RunEventLog(deps.db.kysely);
  }

  /** Registers work done in the transaction that ends a run. */
  onRunEnded(hook: RunEndedHook): void {
    this.endedHooks.push(hook);
  }

  /** Registers work done in the transaction that makes a run `requires_action` (e.g. a `run.requires_action` webhook). */
  onRunWaiting(hook: RunWaitingHook): void {
    this.waitingHooks.push(hook);
  }

  /** Runs executing on this gateway. */
  get size(): number {
    return this.active.size;
  }

  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  /** Logged events of a run executing here with seq > `after`, when its in-memory tail covers them; null otherwise. */
  localEvents(runId: string, after: number): SequencedEvent[] | null {
    const run = this.active.get(runId);
    if (!run) return null;
    const first = run.tail[0]?.seq;
    if (first === undefined) return after >= run.row.last_event_seq ? [] : null;
    if (after < first - 1) return null;
    return run.tail.filter((e) => e.seq > after);
  }

  /** Cancels a run executing here (a cancel signal from any gateway lands here). */
  cancelLocal(runId: string): boolean {
    const run = this.active.get(runId);
    if (!run) return false;
    run.controller.abort();
    return true;
  }

  /**
   * Executes a run this gateway holds to its end, then records the ending, its last events and its
   * usage in one transaction. Returns the loop's result, or null when the run stopped here without
   * ending (lease lost, handed off, or waiting for approvals). Never throws.
   */
  async execute(run: ExecutableRun, options: ExecuteOptions): Promise<RunResult | null> {
    const { row, access } = run;
    const orgId = access.orgId;
    const { logger, bus } = this.deps;
    const controller = new AbortController();
    const active: ActiveRun = { row, controller, detached: null, tail: [], finished: Promise.resolve(), renewing: true };
    this.active.set(row.id, active);
    this.startRenewing();

    const sink = new RunEventSink({
      log: this.eventLog,
      logger,
      orgId,
      runId: row.id,
      lastSeq: row.last_event_seq,
      onFlushed: (batch) => {
        active.tail.push(...batch);
        if (active.tail.length > LOCAL_TAIL) active.tail.splice(0, active.tail.length - LOCAL_TAIL);
        bus.publish({ kind: "events", runId: row.id, seq: batch[batch.length - 1].seq });
      },
    });
    const emit = (event: RunEvent) => {
      const sequenced = sink.emit(event);
      options.listener?.(sequenced);
    };

    const cancel = () => controller.abort();
    const onShutdown = () => {
      if (row.background) active.detached ??= "handoff";
      controller.abort();
    };
    options.signal?.addEventListener("abort", cancel, { once: true });
    this.deps.shutdown.addEventListener("abort", onShutdown, { once: true });
    if (options.signal?.aborted) cancel();
    const unsubscribe = bus.subscribe(row.id, (signal) => {
      if (signal.kind === "cancel") cancel();
    });
    const startedAt = performance.now();
    const telemetry = this.deps.telemetry.startRun({
      runId: row.id,
      orgId,
      agentId: run.agent.id,
      provider: run.provider.id,
      model: run.model.providerModel,
    });
    let result: RunResult;
    /** The ending, once recorded with the run's last model call. */
    let recorded: RecordedEnding | null = null;
    let totals: RunTotals = run.start.kind === "resume" ? run.start.state.totals : { usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, cost: 0, iterations: 0, toolCalls: 0 };
    const finished = (async () => {
      if (options.resumed) emit({ event: "resumed", data: { iteration: totals.iterations + 1 } });
      const appender = run.appender;
      try {
        return await runAgent({
          runId: row.id,
          orgId,
          agentId: run.agent.id,
          conversationId: row.conversation_id,
          provider: run.provider,
          model: { providerModel: run.model.providerModel, maxOutputTokens: Math.min(run.model.maxOutputTokens, MAX_OUTPUT_TOKENS) },
          costOf: (usage) => costOf(run.model, usage),
          system: run.system,
          history: run.history,
          start: run.start,
          temperature: run.agent.temperature,
          maxIterations: run.agent.max_iterations,
          tools: run.tools,
          toolOutputChars: this.deps.config.limits.toolOutputChars,
          signal: controller.signal,
          quota: { reserveCall: (input, maxOutput) => this.deps.quota.reserveCall(orgId, input, maxOutput) },
          // A subagent's run cannot wait: its parent's tool call is running (and holds the slot).
          approvals: {
            required: approvalRequiredFor(JSON.parse(run.agent.approval_required) as string[]),
            refusal: row.parent_run_id ? SUBAGENT_APPROVAL_REFUSAL : undefined,
          },
          emit,
          observer: telemetry.observer,
          // A run that stops here without ending must not record a half step: the next gateway continues from the last whole one.
          onMessage: async (message) => {
            if (!active.detached) await appender.append(message);
          },
          // A model call's settlement, the run's totals and its answer are one step, written in one
          // transaction (they were three commits, ~0.2 ms of each run; and a crash between them
          // left the step half recorded). The call that ends the run shares its transaction with
          // the ending (see `record`): one commit fewer per run, and no moment at which the call
          // is recorded but the run's end is not.
          onModelCall: async ({ reserved, usedTokens, totals: t, message, ending }) => {
            totals = t;
            const settle = await this.deps.quota.settlement(orgId, reserved, usedTokens);
            if (ending && !active.detached) {
              // Ending here: the lease is not renewed any more (a renewal after the commit would
              // find the run ended and take it for a lost lease).
              active.renewing = false;
              recorded = await this.record(run, ending, sink, { message, settle });
              return;
            }
            const now = Date.now();
            await appender.append(active.detached ? null : message, async (trx) => {
              await settle(trx);
              await saveRunProgress(trx, orgId, row.id, this.owner, t, now);
            });
          },
        });
      } catch (error) {
        // A bug or a database failure inside the loop: the run still ends and is billed for what it used.
        logger.error("run failed", { runId: row.id, error });
        return { ...totals, text: "", stopReason: "error", error: { type: "api_error", message: "The run failed on our side." } } satisfies RunResult;
      }
    })();
    active.finished = finished;
    try {
      result = await finished;
    } finally {
      active.renewing = false;
      unsubscribe();
      options.signal?.removeEventListener("abort", cancel);
      this.deps.shutdown.removeEventListener("abort", onShutdown);
      options.release();
      await this.deps.tools.endRun(row.id);
    }

    try {
      const outcome = { inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens, error: result.error?.type ?? null };
      // Recorded with the last model call, the run has ended whatever happened since (a handoff at shutdown).
      if (active.detached && !recorded) {
        telemetry.end({ status: "handed_off", ...outcome });
        await this.detach(active, sink);
        return null;
      }
      if (result.awaiting) {
        telemetry.end({ status: "requires_action", ...outcome });
        await this.suspend(run, result, sink);
        return null;
      }
      const status = statusOf(result.stopReason);
      telemetry.end({ status, ...outcome });
      this.finish(run, recorded ?? (await this.record(run, result, sink)), sink, options);
      // One line per run end, joinable with its request's line (runId) and its trace (traceId).
      logger.info("run ended", {
        runId: row.id,
        orgId,
        agentId: run.agent.id,
        traceId: telemetry.traceId ?? undefined,
        background: Boolean(row.background),
        status,
        stopReason: result.stopReason,
        ...(result.error ? { errorType: result.error.type } : {}),
        model: run.model.id,
        iterations: result.iterations,
        toolCalls: result.toolCalls,
        tokens: result.usage.inputTokens + result.usage.outputTokens + result.usage.cacheReadTokens + result.usage.cacheWriteTokens,
        cost: result.cost,
        ms: Math.round(performance.now() - startedAt),
      });
      return result;
    } finally {
      this.active.delete(row.id);
      if (this.active.size === 0) this.stopRenewing();
    }
  }

  private startRenewing(): void {
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => {
      if (this.renewalInFlight) return;
      this.renewalInFlight = true;
      this.renewAll()
        .catch((error: Error) =>
          this.deps.logger.warn("renewing run leases failed; retrying at the next interval", { error: error.message }),
        )
        .finally(() => {
          this.renewalInFlight = false;
        });
    }, Math.max(200, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
  }

  private stopRenewing(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  /**
   * Renews the lease of every run executing here, a statement per RENEW_CHUNK runs rather than one
   * per run (5,000 held streams made 15,000 commits in 30 s); stops a run whose lease was lost or
   * whose cancel was requested (in case that signal was lost).
   */
  private async renewAll(): Promise<void> {
    const runs = [...this.active.values()].filter((run) => run.renewing);
    for (let i = 0; i < runs.length; i += RENEW_CHUNK) {
      const chunk = runs.slice(i, i + RENEW_CHUNK);
      const now = Date.now();
      const held = await renewLeases(
        this.deps.db.kysely,
        this.owner,
        chunk.map((run) => run.row.id),
        now + this.leaseMs,
        now,
      );
      for (const active of chunk) {
        // Ended (or ending) since the chunk was read: its row is no longer a running one.
        if (!active.renewing || this.active.get(active.row.id) !== active) continue;
        const found = held.get(active.row.id);
        if (found === undefined) {
          this.deps.logger.warn("run lease lost; stopping here", { runId: active.row.id });
          active.detached ??= "lease_lost";
          active.controller.abort();
        } else if (found.cancelRequested) active.controller.abort();
      }
    }
  }

  /** Stops executing a run without ending it: on handoff its events are flushed and its lease released for another gateway. */
  private async detach(active: ActiveRun, sink: RunEventSink): Promise<void> {
    if (active.detached === "lease_lost") {
      sink.abandon();
      return;
    }
    await sink.flush();
    sink.abandon();
    await this.deps.db.kysely
      .updateTable("runs")
      .set({ lease_expires_at: 0, updated_at: Date.now() })
      .where("org_id", "=", active.row.org_id)
      .where("id", "=", active.row.id)
      .where("lease_owner", "=", this.owner)
      .where("status", "=", "running")
      .execute()
      .catch((error) => this.deps.logger.warn("releasing a run's lease failed; it lapses by itself", { runId: active.row.id, error }));
    this.deps.logger.info("run handed off", { runId: active.row.id });
  }

  /**
   * Records that the run waits for approvals: its row (`requires_action`, no lease), its last
   * events and the pending calls in one transaction. Its slots were released already; nothing
   * of it stays on this gateway.
   */
  private async suspend(run: ExecutableRun, result: RunResult, sink: RunEventSink): Promise<void> {
    const { db, logger, bus, config } = this.deps;
    const { row } = run;
    const rest = await sink.takeRest();
    const now = Date.now();
    try {
      const recorded = await suspendRunRecorded(
        db.kysely,
        row,
        this.owner,
        result,
        rest,
        sink.seq,
        result.awaiting ?? [],
        { now, expiresAt: now + config.runs.approvalTimeoutMs },
        this.waitingHooks,
      );
      if (!recorded) logger.warn("a run that waits for approvals was no longer held here", { runId: row.id });
    } catch (error) {
      // The row still says "running": once its lease lapses the sweep continues it, and the calls are asked again.
      logger.error("recording that a run waits for approvals failed", { runId: row.id, error });
    }
    this.active.get(row.id)?.tail.push(...rest);
    bus.publish({ kind: "events", runId: row.id, seq: sink.seq });
    await touchConversation(db.kysely, row.org_id, row.conversation_id, now).catch(() => {});
  }

  /**
   * Records the ending: the run row, the events not yet logged plus `error`/`done`, the usage
   * record, the ended hooks, the conversation's time and HISTORY in one transaction; with `step`
   * (the run's last model call: its settlement and answer) in that same transaction. Never throws:
   * a failed ending is left to the sweep, which records the run from its counters; so a failed
   * ending with its step writes the step alone as before, lest the sweep bill without that call.
   */
  private async record(run: ExecutableRun, result: RunResult, sink: RunEventSink, step?: LastStep): Promise<RecordedEnding> {
    const { db, logger } = this.deps;
    const { row, access } = run;
    const rest = await sink.takeRest();
    const final = closingEvents(row, sink.seq, result, result.stopReason, result.error ?? null, run.children);
    sink.seq = final[final.length - 1].seq;
    const now = Date.now();
    const ending: RunEnding = {
      status: statusOf(result.stopReason),
      stopReason: result.stopReason,
      error: result.error ?? null,
      totals: result,
      lastEventSeq: sink.seq,
    };
    // The conversation's time and HISTORY go in the ending's transaction (one commit for all of
    // it), under a savepoint: their failure must not undo the run's record and usage.
    const afterwards = {
      run: async (trx: Parameters<RunEndedHook>[0]) => {
        await touchConversation(trx, access.orgId, row.conversation_id, now);
        // A subagent's delegated task is not a conversation with the user: it stays out of HISTORY.
        if (!row.parent_run_id && (result.stopReason === "end_turn" || result.stopReason === "max_iterations")) {
          await createMemoryStore(trx, access.orgId, run.agent.id).appendHistory(row.conversation_id, historyEntry(row.input, result.text));
        }
      },
      onError: (error: unknown) => logger.warn("updating conversation after run failed", { runId: row.id, error }),
    };
    const events = [...rest, ...final];
    const condition = { owner: this.owner };
    try {
      if (!step) await endRunRecorded(db.kysely, row, run.agent.name, ending, events, now, condition, this.endedHooks, afterwards);
      else
        await run.appender.append(step.message, async (trx) => {
          await step.settle(trx);
          await endRunRecordedIn(trx, row, run.agent.name, ending, events, now, condition, this.endedHooks, afterwards);
        });
    } catch (error) {
      // The run row still says "running": once its lease lapses the sweep records it from its counters.
      logger.error("recording the end of a run failed; the sweep will retry", { runId: row.id, error });
      if (step) {
        await run.appender
          .append(step.message, async (trx) => {
            await step.settle(trx);
            await saveRunProgress(trx, access.orgId, row.id, this.owner, result, now);
          })
          .catch((stepError) => logger.error("recording a run's last model call failed", { runId: row.id, error: stepError }));
      }
    }
    return { rest, final };
  }

  /** The recorded ending reaches followers here (the tail), then the listener and the other gateways. */
  private finish(run: ExecutableRun, ending: RecordedEnding, sink: RunEventSink, options: ExecuteOptions): void {
    const { row } = run;
    // Followers here read the tail: it must hold the closing events before they are told.
    this.active.get(row.id)?.tail.push(...ending.rest, ...ending.final);
    for (const event of ending.final) options.listener?.(event);
    this.deps.bus.publish({ kind: "ended", runId: row.id, seq: sink.seq });
  }

  /** Hands off (background) or cancels (foreground) every run executing here, and waits for them to stop. */
  async stopAll(): Promise<void> {
    this.closing = true;
    const runs = [...this.active.values()];
    for (const run of runs) {
      if (run.row.background) run.detached ??= "handoff";
      run.controller.abort();
    }
    await Promise.allSettled(runs.map((r) => r.finished));
    // Let the executions record what they must before the database closes.
    for (let i = 0; i < 100 && this.active.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
  }

  get isClosing(): boolean {
    return this.closing;
  }
}
