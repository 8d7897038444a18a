import type { Kysely } from "kysely";
import type { ChannelsTable, Database } from "../../db/schema";

/** Every query is scoped by org: another org's channel is simply not found. */
export function insertChannel(db: Kysely<Database>, row: ChannelsTable): Promise<unknown> {
  return db.insertInto("channels").values(row).execute();
}

export function listChannels(db: Kysely<Database>, orgId: string): Promise<ChannelsTable[]> {
  return db.selectFrom("channels").selectAll().where("org_id", "=", orgId).orderBy("created_at").orderBy("id").execute();
}

export function findChannel(db: Kysely<Database>, orgId: string, id: string): Promise<ChannelsTable | undefined> {
  return db.selectFrom("channels").selectAll().where("org_id", "=", orgId).where("id", "=", id).executeTakeFirst();
}

export function findChannelByName(db: Kysely<Database>, orgId: string, name: string): Promise<ChannelsTable | undefined> {
  return db.selectFrom("channels").selectAll().where("org_id", "=", orgId).where("name", "=", name).executeTakeFirst();
}

export async function deleteChannel(db: Kysely<Database>, orgId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom("channels").where("org_id", "=", orgId).where("id", "=", id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
