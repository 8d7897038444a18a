import type { Kysely, Transaction } from "kysely";
import type { Db } from "../../db";
import type { Database, OrgsTable } from "../../db/schema";
import type { Role } from "../../http/context";
import { prepare } from "../../db/prepared";

type Executor = Kysely<Database> | Transaction<Database>;

/** Creates an org with its first owner. */
export async function insertOrgWithOwner(db: Executor, org: OrgsTable, ownerUserId: string): Promise<void> {
  await db.insertInto("orgs").values(org).execute();
  await db.insertInto("memberships").values({ org_id: org.id, user_id: ownerUserId, role: "owner", created_at: org.created_at }).execute();
}

/**
 * Takes the org row's lock until the transaction ends (a no-op update: PostgreSQL locks the row,
 * SQLite serialises writers anyway). Rules that count rows of an org and then write (the last
 * owner, the plan's agent cap) take it first, so concurrent transactions run them one at a time
 * and each counts what the others committed; under READ COMMITTED two demotions could otherwise
 * both see two owners.
 */
export async function lockOrg(db: Transaction<Database>, orgId: string): Promise<void> {
  await db
    .updateTable("orgs")
    .set((eb) => ({ updated_at: eb.ref("updated_at") }))
    .where("id", "=", orgId)
    .execute();
}

export function findOrg(db: Executor, orgId: string): Promise<OrgsTable | undefined> {
  return orgById.first(db, [orgId]);
}

/** `findOrg` through the read cache (src/db/read-cache.ts): read again only after the org is written. */
export function findOrgCached(db: Db, orgId: string): Promise<OrgsTable | undefined> {
  return db.reads.get(orgId, "org", ["orgs"], () => findOrg(db.kysely, orgId));
}

// Prepared (src/db/prepared.ts): the plan of the caller's org is read on most requests.
const orgById = prepare<[string], OrgsTable>((db, p) => db.selectFrom("orgs").selectAll().where("id", "=", p(0)));

export async function deleteOrg(db: Executor, orgId: string): Promise<void> {
  await db.deleteFrom("orgs").where("id", "=", orgId).execute();
}

export async function renameOrg(db: Executor, orgId: string, name: string, now: number): Promise<void> {
  await db.updateTable("orgs").set({ name, updated_at: now }).where("id", "=", orgId).execute();
}

/** The role of a user in an org, or undefined when not a member. */
export async function findRole(db: Executor, orgId: string, userId: string): Promise<Role | undefined> {
  const row = await db
    .selectFrom("memberships")
    .select("role")
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return row?.role;
}

/** Cross-tenant on purpose: the orgs a user belongs to (their memberships), with the user's role in each. */
export function listOrgsOfUser(db: Executor, userId: string) {
  return db
    .selectFrom("memberships")
    .innerJoin("orgs", "orgs.id", "memberships.org_id")
    .select(["orgs.id as id", "orgs.name as name", "memberships.role as role", "orgs.plan as plan"])
    .where("memberships.user_id", "=", userId)
    .orderBy("memberships.created_at")
    .execute();
}

export function listMembers(db: Executor, orgId: string) {
  return db
    .selectFrom("memberships")
    .innerJoin("users", "users.id", "memberships.user_id")
    .select([
      "users.id as userId",
      "users.email as email",
      "users.name as name",
      "memberships.role as role",
      "memberships.created_at as createdAt",
    ])
    .where("memberships.org_id", "=", orgId)
    .orderBy("memberships.created_at")
    .execute();
}

export async function insertMember(db: Executor, orgId: string, userId: string, role: Role, now: number): Promise<void> {
  await db.insertInto("memberships").values({ org_id: orgId, user_id: userId, role, created_at: now }).execute();
}

export async function updateMemberRole(db: Executor, orgId: string, userId: string, role: Role): Promise<void> {
  await db.updateTable("memberships").set({ role }).where("org_id", "=", orgId).where("user_id", "=", userId).execute();
}

export async function deleteMember(db: Executor, orgId: string, userId: string): Promise<void> {
  await db.deleteFrom("memberships").where("org_id", "=", orgId).where("user_id", "=", userId).execute();
}

export async function countOwners(db: Executor, orgId: string): Promise<number> {
  const row = await db
    .selectFrom("memberships")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("org_id", "=", orgId)
    .where("role", "=", "owner")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
