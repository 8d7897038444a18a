import type { Kysely, Transaction } from "kysely";
import { prepare } from "../../db/prepared";
import type { Database, WebhookDeliveriesTable, WebhookEndpointsTable } from "../../db/schema";

type Executor = Kysely<Database> | Transaction<Database>;

/** Every tenant query is scoped by org: another org's endpoint or delivery is simply not found. */
export async function insertEndpoint(db: Executor, row: WebhookEndpointsTable): Promise<void> {
  await db.insertInto("webhook_endpoints").values(row).execute();
}

export function listEndpoints(db: Executor, orgId: string): Promise<WebhookEndpointsTable[]> {
  return db.selectFrom("webhook_endpoints").selectAll().where("org_id", "=", orgId).orderBy("created_at").orderBy("id").execute();
}

export function findEndpoint(db: Executor, orgId: string, id: string): Promise<WebhookEndpointsTable | undefined> {
  return db.selectFrom("webhook_endpoints").selectAll().where("org_id", "=", orgId).where("id", "=", id).executeTakeFirst();
}

export type EndpointChanges = Partial<Omit<WebhookEndpointsTable, "id" | "org_id" | "created_at">> & { updated_at: number };

export async function updateEndpoint(db: Executor, orgId: string, id: string, changes: EndpointChanges): Promise<boolean> {
  const result = await db.updateTable("webhook_endpoints").set(changes).where("org_id", "=", orgId).where("id", "=", id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Deletes an endpoint; its deliveries go with it (foreign key, and explicitly for clarity). */
export function deleteEndpoint(db: Kysely<Database>, orgId: string, id: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom("webhook_deliveries").where("org_id", "=", orgId).where("webhook_id", "=", id).execute();
    const result = await trx.deleteFrom("webhook_endpoints").where("org_id", "=", orgId).where("id", "=", id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  });
}

// Prepared (src/db/prepared.ts): every run's ending reads it.
const enabledEndpoints = prepare<[string], WebhookEndpointsTable>((db, p) =>
  db.selectFrom("webhook_endpoints").selectAll().where("org_id", "=", p(0)).where("enabled", "=", 1),
);

/** The org's enabled endpoints subscribed to `event` (read in the transaction that writes the outbox rows). */
export async function subscribedEndpoints(db: Executor, orgId: string, event: string): Promise<WebhookEndpointsTable[]> {
  const rows = await enabledEndpoints.rows(db, [orgId]);
  return rows.filter((row) => (JSON.parse(row.events) as string[]).includes(event));
}

export async function insertDeliveries(db: Executor, rows: WebhookDeliveriesTable[]): Promise<void> {
  if (rows.length > 0) await db.insertInto("webhook_deliveries").values(rows).execute();
}

export function findDelivery(db: Executor, orgId: string, id: string): Promise<WebhookDeliveriesTable | undefined> {
  return db.selectFrom("webhook_deliveries").selectAll().where("org_id", "=", orgId).where("id", "=", id).executeTakeFirst();
}

/** A page of an endpoint's delivery log, newest first. */
export async function listDeliveries(
  db: Executor,
  orgId: string,
  webhookId: string,
  page: number,
  limit: number,
  status?: WebhookDeliveriesTable["status"],
): Promise<{ rows: WebhookDeliveriesTable[]; total: number }> {
  let base = db.selectFrom("webhook_deliveries").where("org_id", "=", orgId).where("webhook_id", "=", webhookId);
  if (status) base = base.where("status", "=", status);
  const [rows, count] = await Promise.all([
    base
      .selectAll()
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .offset((page - 1) * limit)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Cross-tenant on purpose (the delivery worker of every gateway): deliveries due now and not leased by a live worker. */
export function findDueDeliveries(db: Executor, now: number, limit: number): Promise<WebhookDeliveriesTable[]> {
  return db
    .selectFrom("webhook_deliveries")
    .selectAll()
    .where("status", "=", "pending")
    .where("next_attempt_at", "<=", now)
    .where((eb) => eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<", now)]))
    .orderBy("next_attempt_at")
    .limit(limit)
    .execute();
}

/**
 * Claims one attempt of a delivery for `owner` until `until`. One conditional statement: of two
 * workers (on any replicas) racing for it, exactly one wins, so an attempt is never sent twice at once.
 */
export async function claimDelivery(db: Executor, orgId: string, id: string, owner: string, now: number, until: number): Promise<boolean> {
  const result = await db
    .updateTable("webhook_deliveries")
    .set({ lease_owner: owner, lease_expires_at: until })
    .where("org_id", "=", orgId)
    .where("id", "=", id)
    .where("status", "=", "pending")
    .where("next_attempt_at", "<=", now)
    .where((eb) => eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<", now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export type AttemptOutcome = Pick<
  WebhookDeliveriesTable,
  "status" | "next_attempt_at" | "response_code" | "last_error" | "last_attempt_at" | "delivered_at"
>;

/** Records an attempt made under the lease (false when the lease was lost meanwhile: nothing changes). */
export async function recordAttempt(db: Executor, orgId: string, id: string, owner: string, outcome: AttemptOutcome): Promise<boolean> {
  const result = await db
    .updateTable("webhook_deliveries")
    .set((eb) => ({ ...outcome, attempts: eb("attempts", "+", 1), lease_owner: null, lease_expires_at: null }))
    .where("org_id", "=", orgId)
    .where("id", "=", id)
    .where("lease_owner", "=", owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
