/**
 * WAL checkpoints of the embedded database on a thread of their own. SQLite's automatic
 * checkpoint runs inside whichever commit crosses the threshold (1,000 pages): that commit copies
 * the WAL into the database file and syncs both, 2–13 ms on this machine against a typical commit's
 * 0.15 ms, on the event loop's thread. Measured at concurrency 1 (BENCHMARKS.md, issue 18): 37 of
 * 1,514 commits took over 1 ms and together half of all commit time. Here a worker thread with
 * its own connection runs a PASSIVE checkpoint (it never blocks writers or readers) every
 * `intervalMs`, on the machine's other core; the gateway's connection keeps an automatic
 * checkpoint only as a backstop at a much larger WAL (so the WAL stays bounded should the worker
 * stop), and commits no longer carry the copy.
 *
 * Durability is unchanged: a commit is in the WAL when it returns, whoever checkpoints it later.
 *
 * @example
 * const checkpointer = startCheckpointer("/var/lib/openpaw/openpaw.db", { intervalMs: 250 });
 * // ... at shutdown, after the gateway's own connection is closed:
 * await checkpointer.stop();
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** WAL pages at which the gateway's own connection checkpoints anyway (SQLite's default is 1,000). */
export const BACKSTOP_CHECKPOINT_PAGES = 20_000;

export interface Checkpointer {
  /** Ends the worker after a last checkpoint. */
  stop(): Promise<void>;
}

// Plain CommonJS evaluated in the worker: it needs no TypeScript loader and nothing of the app.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.path);
db.pragma("busy_timeout = 1000");
const checkpoint = () => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/** Starts checkpointing the WAL database at `path` every `intervalMs` on a worker thread. */
export function startCheckpointer(path: string, options: { intervalMs: number }): Checkpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, intervalMs: options.intervalMs } });
  // A checkpoint that cannot run (the file went away in a test) is not the gateway's failure.
  worker.on("error", () => {});
  worker.unref();
  let stopped: Promise<void> | null = null;
  return {
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        worker.once("exit", () => resolve());
        // Unref'd, the worker would not hold the event loop open while we wait for it: a process
        // with nothing else left would end (exit code 0) inside this await, before its caller ran
        // the rest of its shutdown or its own `process.exit(code)`. The CLI lost its exit codes so.
        worker.ref();
        worker.postMessage("stop");
      });
      return stopped;
    },
  };
}
