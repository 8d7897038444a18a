import type { Kysely, Transaction } from "kysely";
import type { ApiKeysTable, Database } from "../../db/schema";
import { prepare } from "../../db/prepared";

/** API keys of one org. Every query is scoped by `orgId` except the lookup by hash used to authenticate. */
export async function insertApiKey(db: Kysely<Database> | Transaction<Database>, key: ApiKeysTable): Promise<void> {
  await db.insertInto("api_keys").values(key).execute();
}

export function listApiKeys(db: Kysely<Database>, orgId: string): Promise<ApiKeysTable[]> {
  return db
    .selectFrom("api_keys")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("revoked_at", "is", null)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
}

/** Marks a key revoked; false when the org has no such live key. */
export async function revokeApiKey(db: Kysely<Database>, orgId: string, keyId: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable("api_keys")
    .set({ revoked_at: now })
    .where("org_id", "=", orgId)
    .where("id", "=", keyId)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Cross-tenant on purpose (authentication): the key record for a hash, live or not, whatever its
 * org; the caller decides on revocation and expiry, and the key then acts for its own org only.
 */
export function findApiKeyByHash(db: Kysely<Database>, keyHash: string): Promise<ApiKeysTable | undefined> {
  return keyByHash.first(db, [keyHash]);
}

// Prepared (src/db/prepared.ts): every keyed request whose lookup is not cached runs it.
const keyByHash = prepare<[string], ApiKeysTable>((db, p) => db.selectFrom("api_keys").selectAll().where("key_hash", "=", p(0)));

/** Cross-tenant on purpose: writes the buffered last-used times of keys that authenticated (only moves them forward). */
export async function touchApiKeys(db: Kysely<Database>, lastUsed: Map<string, number>): Promise<void> {
  for (const [id, at] of lastUsed) {
    await db
      .updateTable("api_keys")
      .set({ last_used_at: at })
      .where("id", "=", id)
      .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", at)]))
      .execute();
  }
}
