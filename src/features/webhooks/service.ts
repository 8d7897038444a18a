/**
 * Run webhooks: the outbox written with a run's status change, and the worker that delivers it.
 *
 *   run ends (or waits for approval) ─ same transaction ─▶ webhook_deliveries row per subscribed endpoint
 *   every gateway's worker: due rows ─ conditional lease ─▶ POST signed (Standard Webhooks) ─▶ 2xx = delivered
 *                                                        └─ otherwise: backoff with jitter, for 24 h
 *
 * The delivery id is the `webhook-id` of every attempt, so a receiver can drop duplicates
 * (delivery is at least once: a worker that dies after the receiver answered, before it recorded
 * the answer, leaves the attempt to be made again when its lease lapses).
 */
import type { Transaction } from "kysely";
import { Webhook } from "standardwebhooks";
import type { Db } from "../../db";
import type { Database, RunsTable, WebhookDeliveriesTable, WebhookEndpointsTable } from "../../db/schema";
import { newId, randomBase62 } from "../../lib/ids";
import type { Logger } from "../../lib/logger";
import { decryptSecret, encryptSecret } from "../../lib/secrets";
import { FetchRefusedError, type GuardedFetcher, createAllowlist, defaultPort } from "../../runtime/tools/net/guarded-fetch";
import { outboundUrlProblem } from "../../runtime/tools/net/url-policy";
import { type WebhookEvent, eventOfStatus, runEventPayload } from "./events";
import {
  claimDelivery,
  findDelivery,
  findDueDeliveries,
  findEndpoint,
  insertDeliveries,
  recordAttempt,
  subscribedEndpoints,
  updateEndpoint,
} from "./repository";

const HOUR = 3_600_000;
/** Deliveries are retried this long after they were written. */
export const RETRY_WINDOW_MS = 24 * HOUR;
/** An endpoint that has failed every attempt for this long is disabled. */
export const DISABLE_AFTER_MS = 3 * 24 * HOUR;
/** The previous secret still signs for this long after a rotation. */
export const PREVIOUS_SECRET_MS = 24 * HOUR;
/** Delay before the first retry; doubled each time (with ±20% jitter), at most MAX_DELAY_MS. */
const FIRST_RETRY_MS = 30_000;
const MAX_DELAY_MS = 6 * HOUR;
/** How long one attempt may take (the lease outlasts it). */
const ATTEMPT_TIMEOUT_MS = 10_000;
const LEASE_MS = 60_000;
/** Bytes of a receiver's answer that are read: only its status is kept. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface WebhookServiceOptions {
  db: Db;
  logger: Logger;
  secretKey: Uint8Array | null;
  allowlist: readonly string[];
  /** A guarded fetcher that follows no redirects (a 3xx is an answer, not a place to go). */
  fetcher: Pick<GuardedFetcher, "request">;
  sweepMs: number;
  /** The clock (tests move it to reach retries and the 24 h / 3 day limits without waiting). */
  now?: () => number;
}

/** A fresh signing secret in the Standard Webhooks format: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
}

/** Delay before attempt `attempts + 1` after `attempts` failed ones: exponential, with jitter so retries of many deliveries spread out. */
export function retryDelay(attempts: number, random = Math.random): number {
  const base = Math.min(MAX_DELAY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Why the gateway will not deliver to `url`, or null: the address policy of read_url, and https unless the host is allowlisted. */
export async function webhookUrlProblem(url: string, allowlist: readonly string[]): Promise<string | null> {
  const problem = await outboundUrlProblem(url, { allowlist });
  if (problem) return problem;
  const parsed = new URL(url);
  if (parsed.protocol !== "https:" && !createAllowlist(allowlist)(parsed.hostname, parsed.port || defaultPort(parsed.protocol))) {
    return "Webhook URLs must use https.";
  }
  return null;
}

export class WebhookService {
  /** This worker, for the delivery leases. */
  readonly owner = `webhooks/${process.pid}/${randomBase62(8)}`;
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: WebhookServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  // ── the outbox ────────────────────────────────────────────────────────────────────────────

  /**
   * Writes the deliveries of a run's status change, in the caller's transaction (the one that
   * changes the status), for every enabled endpoint of the org subscribed to its event.
   */
  async enqueueRunStatus(trx: Transaction<Database>, run: RunsTable, pendingApprovals: Parameters<typeof runEventPayload>[2] = []): Promise<void> {
    const event = eventOfStatus(run.status);
    if (!event) return;
    await this.enqueue(trx, run.org_id, event, run.id, (now) => runEventPayload(event, run, pendingApprovals, now));
  }

  private async enqueue(trx: Transaction<Database>, orgId: string, event: WebhookEvent, runId: string, payload: (now: number) => string): Promise<void> {
    const endpoints = await subscribedEndpoints(trx, orgId, event);
    if (endpoints.length === 0) return;
    const now = this.now();
    const body = payload(now);
    await insertDeliveries(
      trx,
      endpoints.map((endpoint) => newDelivery(endpoint, event, runId, body, now)),
    );
  }

  /** Writes a test delivery to one endpoint and makes its first attempt now; returns the delivery as it then is. */
  async sendTest(endpoint: WebhookEndpointsTable): Promise<WebhookDeliveriesTable> {
    const now = this.now();
    const body = JSON.stringify({ type: "webhook.test", createdAt: new Date(now).toISOString(), data: { webhook: { id: endpoint.id } } });
    const row = newDelivery(endpoint, "webhook.test", null, body, now);
    await insertDeliveries(this.options.db.kysely, [row]);
    if (await claimDelivery(this.options.db.kysely, row.org_id, row.id, this.owner, now, now + LEASE_MS)) await this.attempt(row);
    return (await findDelivery(this.options.db.kysely, row.org_id, row.id)) ?? row;
  }

  // ── secrets ───────────────────────────────────────────────────────────────────────────────

  seal(secret: string, endpointId: string): Promise<string> {
    if (!this.options.secretKey) throw new Error("OPENPAW_SECRET_KEY is not set.");
    return encryptSecret(this.options.secretKey, secret, endpointId);
  }

  /** The secrets an attempt is signed with now: the current one, and the previous one during its 24 h. */
  private async signingSecrets(endpoint: WebhookEndpointsTable, now: number): Promise<string[]> {
    const key = this.options.secretKey;
    if (!key) throw new Error("OPENPAW_SECRET_KEY is not set, so the endpoint's signing secret cannot be read.");
    const secrets = [await decryptSecret(key, endpoint.secret_enc, endpoint.id)];
    if (endpoint.previous_secret_enc && (endpoint.previous_secret_expires_at ?? 0) > now) {
      secrets.push(await decryptSecret(key, endpoint.previous_secret_enc, endpoint.id));
    }
    return secrets;
  }

  // ── the worker ────────────────────────────────────────────────────────────────────────────

  start(): void {
    this.timer = setInterval(() => void this.deliverDue(), this.options.sweepMs);
    this.timer.unref();
  }

  /** Claims and attempts the deliveries that are due (a batch at a time); resolves when those attempts are recorded. */
  deliverDue(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.sweeping ??= this.sweep()
      .catch((error) => this.options.logger.warn("webhook delivery sweep failed", { error }))
      .finally(() => {
        this.sweeping = null;
      });
    return this.sweeping;
  }

  private async sweep(): Promise<void> {
    const db = this.options.db.kysely;
    for (let round = 0; round < 20 && !this.closed; round++) {
      const now = this.now();
      const due = await findDueDeliveries(db, now, 50);
      if (due.length === 0) return;
      const claimed: WebhookDeliveriesTable[] = [];
      for (const row of due) if (await claimDelivery(db, row.org_id, row.id, this.owner, now, now + LEASE_MS)) claimed.push(row);
      // A handful at once: one slow receiver does not hold up the others.
      for (let i = 0; i < claimed.length; i += 8) await Promise.all(claimed.slice(i, i + 8).map((row) => this.attempt(row)));
      if (due.length < 50) return;
    }
  }

  /** One attempt of a delivery this worker holds the lease of; records its outcome. */
  private async attempt(row: WebhookDeliveriesTable): Promise<void> {
    const db = this.options.db.kysely;
    const endpoint = await findEndpoint(db, row.org_id, row.webhook_id);
    const started = this.now();
    if (endpoint?.enabled !== 1) {
      await recordAttempt(db, row.org_id, row.id, this.owner, {
        status: "failed",
        next_attempt_at: null,
        response_code: null,
        last_error: endpoint?.disabled_reason ?? "The endpoint is disabled.",
        last_attempt_at: started,
        delivered_at: null,
      });
      return;
    }
    let responseCode: number | null = null;
    let error: string | null = null;
    try {
      // The address policy again at every delivery: the URL's name may point elsewhere now.
      const problem = await webhookUrlProblem(endpoint.url, this.options.allowlist);
      if (problem) throw new FetchRefusedError(`Refused: ${problem}`);
      const timestamp = new Date(started);
      const signatures = (await this.signingSecrets(endpoint, started)).map((secret) => new Webhook(secret).sign(row.id, timestamp, row.payload));
      const response = await this.options.fetcher.request(endpoint.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": row.id,
          "webhook-timestamp": String(Math.floor(started / 1000)),
          "webhook-signature": signatures.join(" "),
        },
        body: row.payload,
        onOversize: "truncate",
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      responseCode = response.status;
      if (response.status < 200 || response.status >= 300) error = `The endpoint answered HTTP ${response.status}.`;
    } catch (caught) {
      error = describeFailure(caught);
    }
    const now = this.now();
    if (error === null) {
      await recordAttempt(db, row.org_id, row.id, this.owner, {
        status: "delivered",
        next_attempt_at: null,
        response_code: responseCode,
        last_error: null,
        last_attempt_at: started,
        delivered_at: now,
      });
      if (endpoint.failing_since !== null) await updateEndpoint(db, row.org_id, endpoint.id, { failing_since: null, updated_at: now });
      return;
    }
    const next = now + retryDelay(row.attempts + 1);
    const givingUp = next > row.created_at + RETRY_WINDOW_MS;
    await recordAttempt(db, row.org_id, row.id, this.owner, {
      status: givingUp ? "failed" : "pending",
      next_attempt_at: givingUp ? null : next,
      response_code: responseCode,
      last_error: error,
      last_attempt_at: started,
      delivered_at: null,
    });
    this.options.logger.info("webhook delivery failed", { deliveryId: row.id, webhookId: endpoint.id, attempts: row.attempts + 1, responseCode, error, givingUp });
    await this.noteFailure(endpoint, now, error);
  }

  /** Remembers since when the endpoint fails; after 3 days of nothing but failures it is disabled, with the reason. */
  private async noteFailure(endpoint: WebhookEndpointsTable, now: number, error: string): Promise<void> {
    const db = this.options.db.kysely;
    const since = endpoint.failing_since ?? now;
    if (now - since < DISABLE_AFTER_MS) {
      if (endpoint.failing_since === null) await updateEndpoint(db, endpoint.org_id, endpoint.id, { failing_since: now, updated_at: now });
      return;
    }
    const reason = `Disabled automatically: every delivery failed for 3 days (since ${new Date(since).toISOString()}). Last error: ${error}`;
    await updateEndpoint(db, endpoint.org_id, endpoint.id, { enabled: 0, disabled_reason: reason.slice(0, 1000), updated_at: now });
    this.options.logger.warn("webhook endpoint disabled", { webhookId: endpoint.id, orgId: endpoint.org_id });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping;
  }
}

function newDelivery(endpoint: WebhookEndpointsTable, event: string, runId: string | null, payload: string, now: number): WebhookDeliveriesTable {
  return {
    id: newId("whd"),
    org_id: endpoint.org_id,
    webhook_id: endpoint.id,
    run_id: runId,
    event,
    payload,
    status: "pending",
    attempts: 0,
    next_attempt_at: now,
    lease_owner: null,
    lease_expires_at: null,
    response_code: null,
    last_error: null,
    last_attempt_at: null,
    delivered_at: null,
    created_at: now,
  };
}

function describeFailure(error: unknown): string {
  if (error instanceof FetchRefusedError) {
    return /redirects/.test(error.message) ? "The endpoint answered with a redirect; redirects are not followed." : error.message;
  }
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return `No answer within ${ATTEMPT_TIMEOUT_MS / 1000} s.`;
  return (error as Error)?.message?.slice(0, 500) ?? String(error);
}
