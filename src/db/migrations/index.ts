import { type Kysely, type Migration, type MigrationProvider, Migrator } from "kysely";
import * as m0001 from "./0001_foundation";
import * as m0002 from "./0002_agents_skills";
import * as m0003 from "./0003_runs_usage_memory";

/** Every migration, in order. Add a new file and one line here; never edit a released migration. */
const migrations: Record<string, Migration> = {
  "0001_foundation": m0001,
  "0002_agents_skills": m0002,
  "0003_runs_usage_memory": m0003,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * Brings the schema up to date. Kysely's migrator takes a lock (on PostgreSQL an advisory lock
 * inside a transaction), so replicas starting at the same moment run each migration once.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
