import type { Config } from "../../config";
import type { Db } from "../../db";
import type { CustomDomainsTable } from "../../db/schema";
import type { InvalidationBus } from "../../lib/invalidation";
import type { Logger } from "../../lib/logger";
import { ActiveDomainDirectory } from "./directory";
import { canonicalHost } from "./normalize";
import { claimCheck, findDomainOfOrg, listDuePending, recordCheck } from "./repository";
import { DomainVerifier } from "./verifier";

/** A GET re-checks a pending domain's DNS at most this often (per domain, across replicas). */
export const RECHECK_INTERVAL_MS = 10_000;
/** How long a domain may stay pending before it is marked failed. */
export const VERIFICATION_WINDOW_MS = 72 * 3_600_000;
/** The sweep's backoff: first retry after a minute, doubling, at most hourly. */
const BACKOFF_BASE_MS = 60_000;
const BACKOFF_MAX_MS = 3_600_000;
const SWEEP_INTERVAL_MS = 30_000;
const SWEEP_BATCH = 50;

/** Delay before the next sweep check after `attempts` checks. */
export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, Math.min(attempts - 1, 20)));
}

/**
 * Custom domains' moving parts: DNS verification, the host directory used for routing, and the
 * background sweep that keeps verifying pending domains for 72 hours.
 */
export class DomainService {
  readonly verifier: DomainVerifier;
  readonly directory: ActiveDomainDirectory;
  readonly sweeper: DomainSweeper;
  /** Names that always reach the gateway itself and can never be custom domains. */
  readonly publicHost: string;

  constructor(
    readonly db: Db,
    readonly config: Config,
    private readonly logger: Logger,
    bus: InvalidationBus,
  ) {
    this.verifier = new DomainVerifier(config.domains);
    this.directory = new ActiveDomainDirectory(db.kysely, bus);
    this.sweeper = new DomainSweeper(this, logger);
    this.publicHost = canonicalHost(new URL(config.publicUrl).host);
  }

  /** Hostnames a tenant may not claim: the public host and the CNAME target. */
  get reservedNames(): string[] {
    return [this.publicHost, this.config.domains.cnameTarget];
  }

  /** The org's domain, re-checked first when it is pending and the last check is old enough. */
  async currentOfOrg(orgId: string): Promise<CustomDomainsTable | undefined> {
    const domain = await findDomainOfOrg(this.db.kysely, orgId);
    if (domain?.status !== "pending") return domain;
    const checked = await this.verify(domain, { dueOnly: false });
    return checked ? await findDomainOfOrg(this.db.kysely, orgId) : domain;
  }

  /**
   * Checks a pending domain's DNS and stores the outcome: `active` when verified, `failed` when
   * the 72-hour window is over, else still `pending` with the reason. False when the check was not
   * made because another caller (or replica) checked it within the last 10 s.
   */
  async verify(domain: CustomDomainsTable, options: { dueOnly: boolean }): Promise<boolean> {
    const now = Date.now();
    const claimed = await claimCheck(this.db.kysely, domain, now, {
      minIntervalMs: RECHECK_INTERVAL_MS,
      nextCheckAt: now + backoffMs(domain.attempts + 1),
      dueOnly: options.dueOnly,
    });
    if (!claimed) return false;
    const result = await this.verifier.check(domain.domain, domain.token);
    const done = Date.now();
    const expired = !result.verified && done - domain.pending_since >= VERIFICATION_WINDOW_MS;
    const stored = await recordCheck(this.db.kysely, domain, {
      status: result.verified ? "active" : expired ? "failed" : "pending",
      cname_ok: result.cnameOk ? 1 : 0,
      failure_reason: expired ? `Not verified within 72 hours: ${result.reason}` : result.reason,
      verified_at: result.verified ? done : null,
      updated_at: done,
    });
    if (stored && result.verified) {
      this.logger.info("custom domain verified", { domainId: domain.id, orgId: domain.org_id });
      this.directory.invalidate();
    }
    return true;
  }

  start(): void {
    this.sweeper.start();
  }

  async stop(): Promise<void> {
    await this.sweeper.stop();
  }
}

/**
 * Re-checks pending domains in the background, each on its own backoff, until they verify or
 * their 72 hours are over. Every replica may run one: the conditional claim in `verify` makes
 * each check happen once.
 */
export class DomainSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly domains: DomainService,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running) {
        this.running = this.runOnce()
          .then(() => undefined)
          .catch((error) => this.logger.warn("custom domain sweep failed", { error }))
          .finally(() => {
            this.running = null;
          });
      }
    }, SWEEP_INTERVAL_MS);
    // The sweep must never keep a process alive that is otherwise done.
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass over the domains whose next check is due; returns how many were checked. */
  async runOnce(): Promise<number> {
    const due = await listDuePending(this.domains.db.kysely, Date.now(), SWEEP_BATCH);
    let checked = 0;
    for (const domain of due) {
      if (await this.domains.verify(domain, { dueOnly: true })) checked++;
    }
    return checked;
  }
}
