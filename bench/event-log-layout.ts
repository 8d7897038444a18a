/**
 * The run event log's table layout, measured on its own (`npx tsx bench/event-log-layout.ts`):
 * SQLite time per logged event when many runs stream at once, each group commit holding one event
 * of each of 250 runs (5,000 runs in rotation), for the layout before migration 0018 (primary key
 * plus an `(org_id, run_id)` index) and after it (primary key only), in the same process.
 * Knobs: BENCH_EVENTLOG_WINDOWS (400).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { newId } from "../src/lib/ids";

const TABLE = `create table run_events (run_id text not null, seq integer not null, org_id text not null, event text not null,
  data text not null, created_at integer not null, constraint run_events_pk primary key (run_id, seq))`;
const layouts: Record<string, string[]> = {
  "before 0018 (primary key + org index)": [TABLE, "create index run_events_org_idx on run_events (org_id, run_id)"],
  "after 0018 (primary key only)": [TABLE],
};
const RUNS = 5000;
const PER_COMMIT = 250;
const WINDOWS = Number(process.env.BENCH_EVENTLOG_WINDOWS ?? 400);

function measure(ddl: string[]): { perEvent: number; commit: number } {
  const dir = mkdtempSync(join(tmpdir(), "openpaw-eventlog-"));
  const db = new SQLite(join(dir, "log.db"));
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    for (const statement of ddl) db.exec(statement);
    const runIds = Array.from({ length: RUNS }, () => newId("run")); // the gateway's ids: random, so a window's runs fall on different leaves
    const seqs = new Map<string, number>();
    const insert = db.prepare(`insert into run_events values ${Array(PER_COMMIT).fill("(?, ?, ?, ?, ?, ?)").join(", ")}`);
    const begin = db.prepare("begin");
    const commit = db.prepare("commit");
    let k = 0;
    let commitNs = 0n;
    const start = process.hrtime.bigint();
    for (let w = 0; w < WINDOWS; w++) {
      const params: unknown[] = [];
      for (let j = 0; j < PER_COMMIT; j++) {
        const runId = runIds[k++ % RUNS];
        const seq = (seqs.get(runId) ?? 0) + 1;
        seqs.set(runId, seq);
        params.push(runId, seq, "org_bench", "text", '{"text":"a few words"}', Date.now());
      }
      begin.run();
      insert.run(params);
      const c = process.hrtime.bigint();
      commit.run();
      commitNs += process.hrtime.bigint() - c;
      if (w % 40 === 39) db.pragma("wal_checkpoint(PASSIVE)"); // the gateway's checkpointer does this off-thread
    }
    const events = WINDOWS * PER_COMMIT;
    return { perEvent: Number(process.hrtime.bigint() - start) / 1000 / events, commit: Number(commitNs) / 1000 / events };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`| layout | µs per logged event | of which commit |\n|---|---|---|`);
const results = Object.entries(layouts).map(([name, ddl]) => ({ name, ...measure(ddl) }));
for (const r of results) console.log(`| ${r.name} | ${r.perEvent.toFixed(1)} | ${r.commit.toFixed(1)} |`);
console.log(`\nafter ÷ before: ${(results[1].perEvent / results[0].perEvent).toFixed(2)}`);
