/**
 * Tool approvals (DESIGN.md §6): a person decides each call a waiting run asks for, once; when
 * every call of its turn is decided the run goes back to the queue and continues on any gateway.
 * Undecided calls past `OPENPAW_APPROVAL_TIMEOUT_HOURS` are denied by a sweep every gateway runs.
 * Knows nothing of HTTP: callers hand it an `OrgAccess`.
 */
import type { RunsTable } from "../../db/schema";
import type { OrgAccess } from "../../http/context";
import { errors } from "../../http/errors";
import type { Logger } from "../../lib/logger";
import type { Services } from "../../services";
import type { RunsService } from "../runs/service";
import { timeoutReason } from "./policy";
import { countUndecided, decideApproval, findApproval, findExpiredApprovals } from "./repository";

export interface DecisionRequest {
  toolCallId: string;
  approve: boolean;
  reason?: string;
}

export class ApprovalsService {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: Pick<Services, "db" | "config"> & { logger: Logger; runs: RunsService },
  ) {}

  /**
   * Decides one pending call of a run the principal may see (404 otherwise, as for an unknown
   * call). The caller has `write` (the route declares it, so an owner/admin session or a
   * write/admin key): never a chat key, whoever started the run. 409 when the call is no longer
   * pending (decided, or the run ended).
   */
  async decide(access: OrgAccess, runId: string, request: DecisionRequest): Promise<RunsTable> {
    const row = await this.deps.runs.get(access, runId);
    const db = this.deps.db.kysely;
    const approval = await findApproval(db, access.orgId, runId, request.toolCallId);
    if (!approval) throw errors.notFound("Pending tool call", "toolCallId");
    if (approval.decided_at !== null || row.status !== "requires_action") {
      throw errors.conflict(
        approval.decided_at !== null ? "This tool call was already decided." : `The run no longer waits for a decision (${row.status}).`,
        "toolCallId",
      );
    }
    const by = access.principal.kind === "key" ? `key:${access.principal.keyId}` : `user:${access.principal.userId}`;
    const reason = request.reason?.trim() ? request.reason.trim() : null;
    if (!(await decideApproval(db, access.orgId, runId, request.toolCallId, { approved: request.approve, reason, by, now: Date.now() }))) {
      throw errors.conflict("This tool call was already decided.", "toolCallId");
    }
    await this.continueIfDecided(access.orgId, runId);
    return this.deps.runs.get(access, runId);
  }

  /** Counted after this decision was written: of concurrent last decisions at least one sees none left, and the requeue is conditional. */
  private async continueIfDecided(orgId: string, runId: string): Promise<void> {
    if ((await countUndecided(this.deps.db.kysely, orgId, runId)) > 0) return;
    await this.deps.runs.continueWaiting(orgId, runId);
  }

  /** Denies every call past its timeout; returns how many this gateway decided. */
  async sweepExpired(now = Date.now()): Promise<number> {
    const db = this.deps.db.kysely;
    const reason = timeoutReason(this.deps.config.runs.approvalTimeoutMs / 3_600_000);
    let decided = 0;
    for (const approval of await findExpiredApprovals(db, now)) {
      if (await decideApproval(db, approval.org_id, approval.run_id, approval.tool_call_id, { approved: false, reason, by: "timeout", now })) decided++;
      await this.continueIfDecided(approval.org_id, approval.run_id).catch((error) =>
        this.deps.logger.warn("continuing a run after an approval timeout failed", { runId: approval.run_id, error }),
      );
    }
    return decided;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.sweepExpired().catch((error) => this.deps.logger.warn("approval timeout sweep failed", { error }));
    }, this.deps.config.runs.approvalSweepMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
