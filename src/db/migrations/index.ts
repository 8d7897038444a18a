import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from "kysely";
import * as m0001 from "./0001_foundation";
import * as m0002 from "./0002_agents_skills";
import * as m0003 from "./0003_runs_usage_memory";
import * as m0004 from "./0004_billing";
import * as m0005 from "./0005_domains";
import * as m0006mc from "./0006_mcp_channels";
import * as m0007di from "./0007_deletion_indexes";
import * as m0008 from "./0008_durable_runs";
import * as m0011 from "./0011_compatible_surfaces";
import * as m0012 from "./0012_approvals";
import * as m0013 from "./0013_webhooks_schedules";
import * as m0014 from "./0014_idempotency";
import * as m0015 from "./0015_fulltext";
import * as m0016 from "./0016_history_recency";
import * as m0017 from "./0017_ordered_indexes";
import * as m0018 from "./0018_run_events_lean";
import * as m0019 from "./0019_queued_runs_index";

type Dialect = "sqlite" | "postgres";

/**
 * Every migration, in order. Add a new file and one line here; never edit a released migration.
 * A migration that must differ per dialect takes it as a second argument.
 */
const migrationsOf = (dialect: Dialect): Record<string, Migration> => ({
  "0001_foundation": m0001,
  "0002_agents_skills": m0002,
  "0003_runs_usage_memory": m0003,
  "0004_billing": m0004,
  "0005_domains": m0005,
  "0006_mcp_channels": m0006mc,
  "0007_deletion_indexes": m0007di,
  "0008_durable_runs": { up: (db) => m0008.up(db, dialect), down: m0008.down },
  "0011_compatible_surfaces": m0011,
  "0012_approvals": m0012,
  "0013_webhooks_schedules": m0013,
  "0014_idempotency": m0014,
  "0015_fulltext": { up: (db) => m0015.up(db, dialect), down: (db) => m0015.down(db, dialect) },
  "0016_history_recency": { up: (db) => m0016.up(db, dialect), down: (db) => m0016.down(db, dialect) },
  "0017_ordered_indexes": m0017,
  "0018_run_events_lean": { up: (db) => m0018.up(db, dialect), down: (db) => m0018.down(db, dialect) },
  "0019_queued_runs_index": m0019,
});

/**
 * Brings the schema up to date. Kysely's migrator takes a lock (on PostgreSQL an advisory lock),
 * so replicas starting at the same moment run each migration once. On PostgreSQL its bookkeeping
 * tables live in the current schema: otherwise another schema's tables of the same name (several
 * deployments or test runs in one database) would be taken for ours.
 */
export async function migrateToLatest(db: Kysely<any>, dialect: Dialect): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsOf(dialect) };
  let migrationTableSchema: string | undefined;
  if (dialect === "postgres") {
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
    migrationTableSchema = rows[0]?.schema;
  }
  // Features land on parallel branches, so a database may have run a later-numbered migration
  // before an earlier one appears; each migration is independent of those numbered around it.
  const migrator = new Migrator({ db, provider, migrationTableSchema, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
