/**
 * The real gateway as a child process (`node --import tsx src/main.ts serve`), for the fault and
 * load suites: spawn, bootstrap, signal, and the integrity checks every fault ends with.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import type { Kysely } from "kysely";
import { openDatabase } from "../../src/db";
import type { Database } from "../../src/db/schema";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote (log lines). */
  output: string[];
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Env of a gateway child: the given data dir, a fake model, fast shutdown. */
export function serverEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    OPENPAW_DATA_DIR: dataDir,
    OPENPAW_PASSWORD_HASH_COST: "10",
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    OPENPAW_SHUTDOWN_GRACE_MS: "500",
    OPENPAW_CONCURRENT_RUNS_PER_KEY: "1000",
    OPENPAW_CONCURRENT_RUNS_PER_ORG: "1000",
    // 100 concurrent runs, no token limit: the faults are about the gateway, not the plan.
    OPENPAW_DEFAULT_PLAN: "unlimited",
    ...extra,
  };
}

/**
 * Starts `serve` and waits for its "listening" line. `inherit` are descriptors of this process the
 * gateway receives as 3, 4, ... ("ignore" leaves one closed), open without O_CLOEXEC as a careless
 * supervisor would leave them.
 */
export async function startServerProcess(
  env: Record<string, string>,
  inherit: Array<number | "ignore"> = [],
  /** The program and its node flags: the TypeScript through tsx, or a bundle of bin/build.mjs. */
  entry: string[] = ["--import", "tsx", "src/main.ts"],
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...entry, "serve"], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe", ...inherit],
  });
  const output: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output.join("")}`)), 30_000);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output.push(text);
      const match = /"msg":"listening".*?"url":"([^"]+)"/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    exited.then((code) => reject(new Error(`server exited (${code}):\n${output.join("")}`)));
  });
  return { child, url, output, exited };
}

/** Runs `bootstrap` against the data dir; returns the admin key it prints. */
export async function bootstrapKey(env: Record<string, string>): Promise<{ key: string; orgId: string }> {
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", "src/main.ts", "bootstrap", "--email", "ops@example.com", "--password", "correct horse battery", "--org", "Ops"],
    { cwd: root, env },
  );
  const key = /api key\s+(sk_live_\S+)/.exec(stdout)?.[1];
  const orgId = /org\s+(org_\S+)/.exec(stdout)?.[1];
  if (!key || !orgId) throw new Error(`bootstrap printed no key:\n${stdout}`);
  return { key, orgId };
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

export interface Integrity {
  runs: number;
  usageRecords: number;
  problems: string[];
}

/**
 * The invariants every fault must leave intact: each run has exactly one usage record and is no
 * longer `running`; every conversation's messages parse and their seq numbers are contiguous.
 */
export async function checkIntegrity(db: Kysely<Database>, options: { allowRunning?: boolean } = {}): Promise<Integrity> {
  const problems: string[] = [];
  const runs = await db.selectFrom("runs").select(["id", "status"]).execute();
  const usage = await db.selectFrom("usage_records").select(["run_id"]).execute();
  const perRun = new Map<string, number>();
  for (const u of usage) perRun.set(u.run_id, (perRun.get(u.run_id) ?? 0) + 1);
  for (const r of runs) {
    if (r.status === "running" && !options.allowRunning) problems.push(`run ${r.id} still running`);
    const n = perRun.get(r.id) ?? 0;
    if (n !== 1 && !(r.status === "running" && options.allowRunning)) problems.push(`run ${r.id} (${r.status}) has ${n} usage records`);
  }
  const messages = await db
    .selectFrom("messages")
    .select(["conversation_id", "seq", "content"])
    .orderBy("conversation_id")
    .orderBy("seq")
    .execute();
  const byConversation = new Map<string, number[]>();
  for (const m of messages) {
    try {
      JSON.parse(m.content);
    } catch {
      problems.push(`conversation ${m.conversation_id} seq ${m.seq}: content is not JSON`);
    }
    byConversation.set(m.conversation_id, [...(byConversation.get(m.conversation_id) ?? []), Number(m.seq)]);
  }
  for (const [id, seqs] of byConversation) {
    seqs.forEach((seq, i) => {
      if (i > 0 && seq !== seqs[i - 1] + 1) problems.push(`conversation ${id}: seq ${seqs[i - 1]} then ${seq}`);
    });
  }
  return { runs: runs.length, usageRecords: usage.length, problems };
}

/** Opens the SQLite database of a data dir (the server may be stopped or running). */
export function openDataDir(dataDir: string) {
  return openDatabase(`sqlite:${dataDir}/openpaw.db`);
}
