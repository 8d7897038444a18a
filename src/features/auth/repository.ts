import type { Kysely, Transaction } from "kysely";
import type { Database, UsersTable } from "../../db/schema";

/*
 * Users and sessions. Users are global (an email signs in once) and belong to no org, so these
 * queries are cross-tenant on purpose; what a user may reach in an org is its membership's.
 */

/** Cross-tenant on purpose: accounts belong to no org (sign-in, adding a member by email). */
export function findUserByEmail(db: Kysely<Database> | Transaction<Database>, email: string): Promise<UsersTable | undefined> {
  return db.selectFrom("users").selectAll().where("email", "=", email).executeTakeFirst();
}

/** Cross-tenant on purpose: accounts belong to no org. */
export function findUserById(db: Kysely<Database>, id: string): Promise<UsersTable | undefined> {
  return db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function insertUser(db: Kysely<Database> | Transaction<Database>, user: UsersTable): Promise<void> {
  await db.insertInto("users").values(user).execute();
}

/** Cross-tenant on purpose: a session is a user's, not an org's. */
export async function insertSession(
  db: Kysely<Database>,
  session: { id: string; userId: string; createdAt: number; expiresAt: number },
): Promise<void> {
  await db
    .insertInto("sessions")
    .values({ id: session.id, user_id: session.userId, created_at: session.createdAt, expires_at: session.expiresAt })
    .execute();
}

/** Cross-tenant on purpose (authentication): the user of a live session, by the hash of its token. */
export function findSessionUser(db: Kysely<Database>, sessionHash: string, now: number) {
  return db
    .selectFrom("sessions")
    .innerJoin("users", "users.id", "sessions.user_id")
    .select(["sessions.id as sessionId", "users.id as userId", "users.email as email"])
    .where("sessions.id", "=", sessionHash)
    .where("sessions.expires_at", ">", now)
    .executeTakeFirst();
}

/** Cross-tenant on purpose: a session is a user's, not an org's. */
export async function deleteSession(db: Kysely<Database>, sessionHash: string): Promise<void> {
  await db.deleteFrom("sessions").where("id", "=", sessionHash).execute();
}

/** Cross-tenant on purpose (a sweep): drops expired sessions; called from time to time, not per request. */
export async function deleteExpiredSessions(db: Kysely<Database>, now: number): Promise<void> {
  await db.deleteFrom("sessions").where("expires_at", "<=", now).execute();
}
