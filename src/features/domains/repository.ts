import type { Kysely } from "kysely";
import type { CustomDomainsTable, Database } from "../../db/schema";

/**
 * Custom domains. Org-facing queries are scoped by `orgId`; the few that are not (the host
 * directory, the claim check, the sweep) are marked and never return data to a tenant.
 */
export function findDomainOfOrg(db: Kysely<Database>, orgId: string): Promise<CustomDomainsTable | undefined> {
  return db.selectFrom("custom_domains").selectAll().where("org_id", "=", orgId).executeTakeFirst();
}

/** Cross-tenant on purpose: who holds a hostname, for the 409 check (the caller never reveals the holder). */
export function findDomainByName(db: Kysely<Database>, domain: string): Promise<CustomDomainsTable | undefined> {
  return db.selectFrom("custom_domains").selectAll().where("domain", "=", domain).executeTakeFirst();
}

/**
 * Gives the org `record` as its one domain, replacing any it had. A `failed` claim of the same
 * hostname by another org is dropped first: it never proved control, so it must not block the
 * real owner forever. Throws a unique violation when another org holds the hostname otherwise.
 */
export async function replaceDomain(db: Kysely<Database>, record: CustomDomainsTable): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom("custom_domains").where("org_id", "=", record.org_id).execute();
    await trx
      .deleteFrom("custom_domains")
      .where("domain", "=", record.domain)
      .where("status", "=", "failed")
      .where("org_id", "<>", record.org_id)
      .execute();
    await trx.insertInto("custom_domains").values(record).execute();
  });
}

/** Restarts verification of the org's current domain (same token, fresh 72-hour window). */
export async function restartVerification(db: Kysely<Database>, orgId: string, id: string, now: number): Promise<void> {
  await db
    .updateTable("custom_domains")
    .set({
      status: "pending",
      failure_reason: null,
      attempts: 0,
      pending_since: now,
      checked_at: null,
      next_check_at: now,
      updated_at: now,
    })
    .where("org_id", "=", orgId)
    .where("id", "=", id)
    .execute();
}

/** Removes the org's domain; false when it had none. */
export async function deleteDomainOfOrg(db: Kysely<Database>, orgId: string): Promise<boolean> {
  const result = await db.deleteFrom("custom_domains").where("org_id", "=", orgId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * Takes the right to check a pending domain now, in one conditional statement so that concurrent
 * GETs and every replica's sweep check it at most once per `minIntervalMs`. With `dueOnly`
 * (the sweep) the backoff's `next_check_at` must also have come. False when someone else has it.
 */
export async function claimCheck(
  db: Kysely<Database>,
  domain: CustomDomainsTable,
  now: number,
  options: { minIntervalMs: number; nextCheckAt: number; dueOnly: boolean },
): Promise<boolean> {
  let query = db
    .updateTable("custom_domains")
    .set((eb) => ({ checked_at: now, attempts: eb("attempts", "+", 1), next_check_at: options.nextCheckAt }))
    .where("id", "=", domain.id)
    .where("token", "=", domain.token)
    .where("status", "=", "pending")
    .where((eb) => eb.or([eb("checked_at", "is", null), eb("checked_at", "<=", now - options.minIntervalMs)]));
  if (options.dueOnly) query = query.where("next_check_at", "<=", now);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Stores a check's outcome, unless the domain was replaced or settled meanwhile. True when stored. */
export async function recordCheck(
  db: Kysely<Database>,
  domain: CustomDomainsTable,
  patch: Pick<CustomDomainsTable, "status" | "cname_ok" | "failure_reason" | "verified_at" | "updated_at">,
): Promise<boolean> {
  const result = await db
    .updateTable("custom_domains")
    .set(patch)
    .where("id", "=", domain.id)
    .where("token", "=", domain.token)
    .where("status", "=", "pending")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Cross-tenant on purpose (the sweep): pending domains whose next check is due. */
export function listDuePending(db: Kysely<Database>, now: number, limit: number): Promise<CustomDomainsTable[]> {
  return db
    .selectFrom("custom_domains")
    .selectAll()
    .where("status", "=", "pending")
    .where("next_check_at", "<=", now)
    .orderBy("next_check_at")
    .limit(limit)
    .execute();
}

/** Cross-tenant on purpose (host routing): every active hostname and its org. */
export function listActiveDomains(db: Kysely<Database>): Promise<Array<{ domain: string; org_id: string }>> {
  return db.selectFrom("custom_domains").select(["domain", "org_id"]).where("status", "=", "active").execute();
}
