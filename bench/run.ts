/**
 * Gateway benchmark (`npm run bench`). The fake Anthropic server, the gateway and a hello-world
 * baseline each run in their own child process; this process only generates load and measures.
 * SQLite always, PostgreSQL too when TEST_DATABASE_URL is set (a fresh database, dropped after).
 *
 * Knobs (full run = defaults): BENCH_SECONDS per measurement (5), BENCH_WARMUP_SECONDS (8), BENCH_CONCURRENCY (1,50,200),
 * BENCH_CAPACITY_LEVELS (1,2,4,8,16,32,64,128), BENCH_STREAMS (1000,5000), BENCH_STREAM_SECONDS
 * (30), BENCH_HISTORY (0,10000,100000), BENCH_HISTORY_NOTES (notes per 1,000 entries, 1), BENCH_ONLY (overhead,capacity,eventlog,api,history,streams,processes,statements;
 * processes: 1 vs 2 gateway processes, PostgreSQL only, with Redis when REDIS_URL is set),
 * BENCH_SKIP_USAGE=1 skips bench/usage.ts, BENCH_PROFILE_DIR writes the gateway's CPU profile there,
 * BENCH_GATEWAY (bundle: build/gateway.mjs as `npm start` runs it, built at the start; tsx: src/main.ts
 * through tsx, as the tests run it).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import { sql } from "kysely";
import pg from "pg";
import { Agent, request } from "undici";
import { openDatabase } from "../src/db";
import { benchGatewayEnv, cpuMsOf } from "./gateway-env";

const env = process.env;
const list = (v: string | undefined, d: string) =>
  (v ?? d)
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const WARMUP_SECONDS = Number(env.BENCH_WARMUP_SECONDS ?? 8);
const CONCURRENCY = list(env.BENCH_CONCURRENCY, "1,50,200");
const LEVELS = list(env.BENCH_CAPACITY_LEVELS, "1,2,4,8,16,32,64,128");
const STREAMS = list(env.BENCH_STREAMS, "1000,5000");
const HISTORY = (env.BENCH_HISTORY ?? "0,10000,100000").split(",").map((s) => Number(s.trim()));
const maxHistory = Math.max(...HISTORY);
/** Notes per 1,000 HISTORY entries in the HISTORY phase (1: 100 notes at 100,000 entries); 0 tells HISTORY's cost from the notes'. */
const NOTES_PER_1000 = Number(env.BENCH_HISTORY_NOTES ?? 1);
const GATEWAY = env.BENCH_GATEWAY ?? "bundle";
if (GATEWAY !== "bundle" && GATEWAY !== "tsx") throw new Error(`BENCH_GATEWAY is "bundle" or "tsx", not "${GATEWAY}"`);
const STREAM_SECONDS = Number(env.BENCH_STREAM_SECONDS ?? 30);
const ONLY = new Set((env.BENCH_ONLY ?? "overhead,capacity,eventlog,history,api,streams,processes,statements").split(","));
const ROOT = join(import.meta.dirname, "..");
const SONNET = "claude-sonnet-4-20250514";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dispatcher = new Agent({ connections: null, pipelining: 1, keepAliveTimeout: 30_000, bodyTimeout: 0, headersTimeout: 0 });

// ---------------------------------------------------------------- processes

const children: ChildProcess[] = [];
/** A child process of `node`; a script ending in .ts runs through tsx. */
function child(args: string[], extraEnv: Record<string, string>): { proc: ChildProcess; output: string[]; line: Promise<string> } {
  const flags = args.filter((a) => a.startsWith("--"));
  const rest = args.filter((a) => !a.startsWith("--"));
  const loader = rest[0]?.endsWith(".ts") ? ["--import", "tsx"] : [];
  const proc = spawn(process.execPath, [...flags, ...loader, ...rest], {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(proc);
  const output: string[] = [];
  const line = new Promise<string>((resolve, reject) => {
    proc.stdout?.on("data", (d: Buffer) => {
      output.push(d.toString());
      const first = output.join("").split("\n")[0];
      if (output.join("").includes("\n")) resolve(first);
    });
    proc.once("exit", (code) => reject(new Error(`${args.join(" ")} exited ${code}: ${output.join("")}`)));
  });
  proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
  // Only some children print a line; an exit after it (or for those that never do) is not an error here.
  line.catch(() => {});
  return { proc, output, line };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

interface Gateway {
  url: string;
  pid: number;
  databaseUrl: string;
  cookie: string;
  key: string;
  orgId: string;
  agentId: string;
  stop(): Promise<void>;
}

/**
 * Starts a gateway process on `databaseUrl`. With `account` (another process's gateway on the same
 * database) it serves that account's org, agent and key instead of signing up a new one, and uses
 * Redis when `redisUrl` is given, as replicas do.
 */
async function startGateway(
  databaseUrl: string,
  modelUrl: string,
  dataDir: string,
  options: { account?: Gateway; redisUrl?: string; env?: Record<string, string> } = {},
): Promise<Gateway> {
  const port = await freePort();
  mkdirSync(dataDir, { recursive: true });
  // BENCH_PROFILE_DIR: the gateway writes a V8 CPU profile there when it stops (--cpu-prof).
  const profile = env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${env.BENCH_PROFILE_DIR}`] : [];
  const entry = GATEWAY === "bundle" ? ["--enable-source-maps", "build/gateway.mjs"] : ["src/main.ts"];
  const g = child(
    [...profile, ...entry, "serve"],
    { ...benchGatewayEnv({ port, databaseUrl, modelUrl, dataDir, redisUrl: options.redisUrl }), ...options.env },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (g.proc.exitCode !== null) throw new Error(`gateway exited: ${g.output.join("")}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`gateway not ready: ${g.output.join("")}`);
    await sleep(200);
  }
  const stop = async () => {
    g.proc.kill("SIGTERM");
    await Promise.race([new Promise((r) => g.proc.once("exit", r)), sleep(15_000)]);
  };
  if (options.account) return { ...options.account, url, pid: g.proc.pid as number, stop };
  const json = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return { res, body: (await res.json()) as any };
  };
  const signup = await json("/v1/auth/signup", {
    email: `bench${Date.now()}@example.com`,
    password: "correct horse battery",
    orgName: "Bench",
  });
  const cookie = (signup.res.headers.get("set-cookie") ?? "").split(";")[0];
  const orgId = signup.body.org.id as string;
  const agent = await json(
    `/v1/orgs/${orgId}/agents`,
    { name: "Bench", systemPrompt: "Be brief.", model: SONNET, enabledTools: [] },
    { cookie },
  );
  const key = await json(`/v1/orgs/${orgId}/api-keys`, { scopes: ["chat", "read"] }, { cookie });
  return {
    url,
    pid: g.proc.pid as number,
    databaseUrl,
    cookie,
    key: key.body.key,
    orgId,
    agentId: agent.body.id,
    stop,
  };
}

const diagnostics = async (g: Gateway, reset = false) =>
  (await (await fetch(`${g.url}/internal/diagnostics${reset ? "?reset=1" : ""}`)).json()) as {
    eventLoopDelayMs: { p50: number; p99: number; max: number };
    rssBytes: number;
    statements?: { count: number; totalMs: number; top: Array<{ sql: string; count: number; totalMs: number; meanUs: number }> };
  };

// ---------------------------------------------------------------- load

interface Sample {
  ttft: number;
  total: number;
  ok: boolean;
}

/** One streamed chat (gateway) or Messages call (direct); times the first text delta and the end. */
async function oneRun(target: { kind: "gateway"; g: Gateway } | { kind: "direct"; modelUrl: string }, message: string): Promise<Sample> {
  const start = performance.now();
  let ttft = 0;
  try {
    const res =
      target.kind === "gateway"
        ? await request(`${target.g.url}/v1/agent/${target.g.agentId}/chat`, {
            method: "POST",
            dispatcher,
            headers: { "content-type": "application/json", authorization: `Bearer ${target.g.key}` },
            body: JSON.stringify({ message }),
          })
        : await request(`${target.modelUrl}/v1/messages`, {
            method: "POST",
            dispatcher,
            headers: { "content-type": "application/json", "x-api-key": "sk-ant-bench", "anthropic-version": "2023-06-01" },
            body: JSON.stringify({ model: SONNET, max_tokens: 1024, stream: true, messages: [{ role: "user", content: message }] }),
          });
    const marker = target.kind === "gateway" ? "event: text" : "text_delta";
    const end = target.kind === "gateway" ? "event: done" : "message_stop";
    let tail = "";
    let sawEnd = false;
    for await (const chunk of res.body) {
      const text = tail + (chunk as Buffer).toString();
      if (!ttft && text.includes(marker)) ttft = performance.now() - start;
      if (text.includes(end)) sawEnd = true;
      tail = text.slice(-32);
    }
    return { ttft, total: performance.now() - start, ok: res.statusCode === 200 && ttft > 0 && sawEnd };
  } catch {
    return { ttft, total: performance.now() - start, ok: false };
  }
}

/** Reads an SSE body to its `done` event; true when it saw it. */
async function readToDone(body: AsyncIterable<unknown>): Promise<boolean> {
  let tail = "";
  let sawEnd = false;
  for await (const chunk of body) {
    const text = tail + (chunk as Buffer).toString();
    if (text.includes("event: done")) sawEnd = true;
    tail = text.slice(-32);
  }
  return sawEnd;
}

/**
 * One chat plus a follower of its run on the events route (opened as soon as the run id is
 * known); the sample ends when both streams have seen `done`.
 */
async function oneFollowedRun(g: Gateway, message: string): Promise<Sample> {
  const start = performance.now();
  try {
    const res = await request(`${g.url}/v1/agent/${g.agentId}/chat`, {
      method: "POST",
      dispatcher,
      headers: { "content-type": "application/json", authorization: `Bearer ${g.key}` },
      body: JSON.stringify({ message }),
    });
    const runId = String(res.headers["x-run-id"]);
    const follower = request(`${g.url}/v1/orgs/${g.orgId}/runs/${runId}/events`, {
      dispatcher,
      headers: { authorization: `Bearer ${g.key}` },
    }).then(async (r) => r.statusCode === 200 && (await readToDone(r.body)));
    const ttft = performance.now() - start;
    const [chatDone, followerDone] = await Promise.all([readToDone(res.body), follower]);
    return { ttft, total: performance.now() - start, ok: res.statusCode === 200 && chatDone && followerDone };
  } catch {
    return { ttft: 0, total: performance.now() - start, ok: false };
  }
}

/** A background run (202) followed on the events route to its `done`. */
async function oneBackgroundRun(g: Gateway, message: string): Promise<Sample> {
  const start = performance.now();
  try {
    const res = await request(`${g.url}/v1/agent/${g.agentId}/chat`, {
      method: "POST",
      dispatcher,
      headers: { "content-type": "application/json", authorization: `Bearer ${g.key}` },
      body: JSON.stringify({ message, background: true }),
    });
    const { id } = (await res.body.json()) as { id: string };
    const ttft = performance.now() - start;
    const events = await request(`${g.url}/v1/orgs/${g.orgId}/runs/${id}/events`, {
      dispatcher,
      headers: { authorization: `Bearer ${g.key}` },
    });
    const ok = res.statusCode === 202 && events.statusCode === 200 && (await readToDone(events.body));
    return { ttft, total: performance.now() - start, ok };
  } catch {
    return { ttft: 0, total: performance.now() - start, ok: false };
  }
}

/** Closed loop: `concurrency` workers run back to back for `seconds`. */
async function closedLoop(run: () => Promise<Sample>, concurrency: number, seconds: number) {
  const samples: Sample[] = [];
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) samples.push(await run());
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const ok = samples.filter((s) => s.ok);
  const pct = (values: number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : Number.NaN;
  };
  return {
    rps: ok.length / elapsed,
    errors: samples.length - ok.length,
    ttft: {
      p50: pct(
        ok.map((s) => s.ttft),
        50,
      ),
      p99: pct(
        ok.map((s) => s.ttft),
        99,
      ),
    },
    total: {
      p50: pct(
        ok.map((s) => s.total),
        50,
      ),
      p99: pct(
        ok.map((s) => s.total),
        99,
      ),
    },
  };
}

/** The figures of the performance issue's table, per database, printed together at the end. */
const summary = new Map<string, number>();
const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
const lines: string[] = [];
const out = (line: string) => {
  console.log(line);
  lines.push(line);
};

// ---------------------------------------------------------------- phases

async function overhead(g: Gateway, modelUrl: string) {
  out("\n### Overhead (fast model; ms; gateway minus direct)\n");
  out(
    "| conc | direct ttft p50/p99 | gateway ttft p50/p99 | overhead ttft p50/p99 | direct total p50/p99 | gateway total p50/p99 | overhead total p50/p99 | runs/s gw/direct | errors |",
  );
  out("|---|---|---|---|---|---|---|---|---|");
  for (const c of CONCURRENCY) {
    const d = await closedLoop(() => oneRun({ kind: "direct", modelUrl }, "Hello"), c, SECONDS);
    const cpuBefore = cpuMsOf(g.pid);
    const gw = await closedLoop(() => oneRun({ kind: "gateway", g }, "Hello"), c, SECONDS);
    summary.set(`cpu:${c}`, (cpuMsOf(g.pid) - cpuBefore) / Math.max(1, gw.rps * SECONDS));
    out(
      `| ${c} | ${f(d.ttft.p50)}/${f(d.ttft.p99)} | ${f(gw.ttft.p50)}/${f(gw.ttft.p99)} | ${f(gw.ttft.p50 - d.ttft.p50)}/${f(gw.ttft.p99 - d.ttft.p99)} | ` +
        `${f(d.total.p50)}/${f(d.total.p99)} | ${f(gw.total.p50)}/${f(gw.total.p99)} | ${f(gw.total.p50 - d.total.p50)}/${f(gw.total.p99 - d.total.p99)} | ` +
        `${f(gw.rps)}/${f(d.rps)} = ${(gw.rps / d.rps).toFixed(3)} | ${gw.errors}+${d.errors} |`,
    );
    summary.set(`overhead:${c}`, gw.total.p50 - d.total.p50);
  }
  // The fast model answers at once, so N workers in a closed loop offer the gateway all it can
  // take: at 200 that measures saturation (capacity's figure), not what 200 concurrent streams
  // cost. Here the model streams each answer over ~1 s, as a short real answer does, so 200
  // workers hold 200 streams at a time; the overhead is still gateway minus direct at equal load.
  out("\n### Overhead with streamed answers (the model streams each answer over ~1 s; ms; gateway minus direct)\n");
  out(
    "| concurrent streams | direct total p50/p99 | gateway total p50/p99 | overhead total p50/p99 | runs/s gw/direct | gateway CPU per run (ms) | errors |",
  );
  out("|---|---|---|---|---|---|---|");
  for (const c of CONCURRENCY) {
    const d = await closedLoop(() => oneRun({ kind: "direct", modelUrl }, "[stream] Hello"), c, SECONDS);
    const cpuBefore = cpuMsOf(g.pid);
    const gw = await closedLoop(() => oneRun({ kind: "gateway", g }, "[stream] Hello"), c, SECONDS);
    const cpu = (cpuMsOf(g.pid) - cpuBefore) / Math.max(1, gw.rps * SECONDS);
    out(
      `| ${c} | ${f(d.total.p50)}/${f(d.total.p99)} | ${f(gw.total.p50)}/${f(gw.total.p99)} | ${f(gw.total.p50 - d.total.p50)}/${f(gw.total.p99 - d.total.p99)} | ` +
        `${f(gw.rps)}/${f(d.rps)} | ${cpu.toFixed(2)} | ${gw.errors}+${d.errors} |`,
    );
    summary.set(`overhead:stream:${c}`, gw.total.p50 - d.total.p50);
  }
}

async function capacity(g: Gateway, modelUrl: string) {
  out("\n### Capacity (fast model): runs/s by concurrency, p99 overhead = gateway total p99 - direct total p99\n");
  out("| conc | runs/s | gateway total p99 | direct total p99 | p99 overhead | errors |");
  out("|---|---|---|---|---|---|");
  let best = 0;
  for (const c of LEVELS) {
    const d = await closedLoop(() => oneRun({ kind: "direct", modelUrl }, "Hello"), c, Math.max(2, SECONDS / 2));
    const gw = await closedLoop(() => oneRun({ kind: "gateway", g }, "Hello"), c, SECONDS);
    const over = gw.total.p99 - d.total.p99;
    out(`| ${c} | ${f(gw.rps)} | ${f(gw.total.p99)} | ${f(d.total.p99)} | ${f(over)} | ${gw.errors} |`);
    if (over < 50 && gw.errors === 0) best = Math.max(best, gw.rps);
    if (over >= 50) break;
  }
  out(`\n**Capacity: ${f(best)} runs/s at p99 overhead < 50 ms**`);
  summary.set("capacity", best);
}

/**
 * What following runs costs: the same fast-model chat alone, with a follower of each run on the
 * events route, and as a background run followed to its end. Every run writes its event log in
 * all three (the log is not optional), so "alone" is the baseline the others are divided by; the
 * log's own cost against the gateway before it existed is in BENCHMARKS.md (same harness).
 */
async function eventLog(g: Gateway) {
  out("\n### Event log: runs alone, with a follower each, in the background (fast model)\n");
  out("| conc | mode | runs/s | total p50/p99 ms | runs/s ÷ alone | errors |");
  out("|---|---|---|---|---|---|");
  for (const c of [1, 8]) {
    const alone = await closedLoop(() => oneRun({ kind: "gateway", g }, "Hello"), c, SECONDS);
    const followed = await closedLoop(() => oneFollowedRun(g, "Hello"), c, SECONDS);
    const background = await closedLoop(() => oneBackgroundRun(g, "Hello"), c, SECONDS);
    for (const [mode, r] of [
      ["chat alone", alone],
      ["chat + follower", followed],
      ["background + follower", background],
    ] as const) {
      out(`| ${c} | ${mode} | ${f(r.rps)} | ${f(r.total.p50)}/${f(r.total.p99)} | ${(r.rps / alone.rps).toFixed(3)} | ${r.errors} |`);
    }
    summary.set(`follower:${c}`, followed.rps / alone.rps);
    summary.set(`background:${c}`, background.rps / alone.rps);
  }
}

/** Summary-like HISTORY lines: a few topics, some of which the benchmark's question names. */
const TOPICS =
  "staging deploy pipeline invoice acme weather server refund order billing report metric falcon project customer migration".split(" ");
/** The HISTORY phases' message: it names some of the fill's words. */
const HISTORY_MESSAGE = "Hello, how is the staging deploy going?";
function fillerEntry(i: number): string {
  const pick = (k: number) => TOPICS[(i * 7 + k * 13 + ((i >> k) & 3)) % TOPICS.length];
  return `Asked: what about the ${pick(1)} ${pick(2)} for ${pick(3)} ${i}? | Answered: The ${pick(4)} ${pick(5)} is fine; see ${pick(6)} notes.`;
}

/** The issue's table for one database: each figure with its "done at" bar. */
function printSummary(label: string) {
  const v = (key: string, digits = 1) => (summary.has(key) ? (summary.get(key) as number).toFixed(digits) : "not measured");
  const maxStreams = Math.max(...STREAMS);
  out(`\n### Figures of the performance issue (${label})\n`);
  out("| figure | this run | done at |");
  out("|---|---|---|");
  out(`| overhead p50 at concurrency 1 (ms) | ${v("overhead:1")} | ≤ 2 |`);
  out(`| gateway CPU per run at concurrency 1 (ms) | ${v("cpu:1", 2)} | (reported) |`);
  out(`| capacity (runs/s at p99 overhead < 50 ms) | ${v("capacity")} | ≥ 500 |`);
  const most = Math.max(...CONCURRENCY);
  out(`| overhead p50 at ${most} concurrent streams, answers streamed over ~1 s (ms) | ${v(`overhead:stream:${most}`)} | ≤ 15 |`);
  out(`| overhead p50 at ${most} concurrent, fast model: a saturated closed loop (ms) | ${v(`overhead:${most}`)} | (reported) |`);
  out(`| keyed GET ÷ hello-world | ${v("keyed", 3)} | ≥ 0.20 |`);
  out(`| gateway CPU per keyed GET (ms) | ${v("keyedCpu", 3)} | (reported) |`);
  out(
    `| memory per held stream at ${maxStreams} (KB), errors | ${v(`stream:${maxStreams}`)}, ${v(`streamErrors:${maxStreams}`, 0)} | ≤ 50, 0 |`,
  );
  out(
    `| runs/s with ${maxHistory.toLocaleString("en-US")} HISTORY ÷ none (by CPU per run) | ${v(`history:${maxHistory}`, 3)} (${v(`historyCpu:${maxHistory}`, 3)}) | ≥ 0.9 |`,
  );
  out(
    `| the same, interleaved with an empty agent in one table (by CPU) | ${v("historyInterleaved", 3)} (${v("historyInterleavedCpu", 3)}) | (reported) |`,
  );
  out(`| runs/s with a follower of each run ÷ alone (conc 1 / 8) | ${v("follower:1", 3)} / ${v("follower:8", 3)} | (reported) |`);
  // After the capacity phase the bench's org holds ~100k runs: a background start that read them all showed here (0.20).
  out(`| background runs/s, followed, ÷ chat alone (conc 1 / 8) | ${v("background:1", 3)} / ${v("background:8", 3)} | (reported) |`);
  if (label === "PostgreSQL")
    out(`| runs/s of 2 gateway processes ÷ 1 (conc 4 / 16) | ${v("processes:4", 2)} / ${v("processes:16", 2)} | (reported) |`);
  out("| usage summary at 1M records | printed by bench/usage.ts below | < 100 ms |");
}

/**
 * Runs against agents that remember more and more: each level is a new agent pre-filled (in the
 * database directly) with N HISTORY entries and N/1,000 notes (notes are always in the prompt and
 * capped per agent, so they cannot grow like HISTORY), then the same chat as the overhead phase,
 * whose message names some of the entries' words. Runs/s and overhead against the empty agent.
 */
async function historyScaling(g: Gateway, modelUrl: string) {
  out(`\n### HISTORY scaling (fast model, concurrency 1; agent pre-filled with N HISTORY entries and N × ${NOTES_PER_1000}/1000 notes)\n`);
  out(
    "| HISTORY entries | notes | fill s | runs/s | overhead total p50/p99 ms | runs/s ÷ empty | gateway CPU ms/run | empty ÷ this CPU | errors |",
  );
  out("|---|---|---|---|---|---|---|---|---|");
  const db = openDatabase(g.databaseUrl);
  try {
    const direct = await closedLoop(() => oneRun({ kind: "direct", modelUrl }, HISTORY_MESSAGE), 1, Math.max(2, SECONDS / 2));
    let empty = 0;
    let emptyCpu = 0;
    const newAgent = async (name: string) => {
      const res = await fetch(`${g.url}/v1/orgs/${g.orgId}/agents`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie: g.cookie },
        body: JSON.stringify({ name, systemPrompt: "Be brief.", model: SONNET, enabledTools: [] }),
      });
      return ((await res.json()) as { id: string }).id;
    };
    let fullest = "";
    for (const n of HISTORY) {
      const agentId = await newAgent(`History ${n}`);
      if (n === maxHistory) fullest = agentId;
      const fillStart = performance.now();
      const base = Date.now() - n * 60_000;
      for (let i = 0; i < n; i += 500) {
        const rows = Array.from({ length: Math.min(500, n - i) }, (_, k) => ({
          id: `mem_bench${n}_${i + k}`,
          org_id: g.orgId,
          agent_id: agentId,
          conversation_id: null,
          content: fillerEntry(i + k),
          created_at: base + (i + k) * 60_000,
        }));
        await db.kysely.insertInto("memory_history").values(rows).execute();
      }
      const notes = Array.from({ length: Math.floor((n * NOTES_PER_1000) / 1000) }, (_, k) => ({
        id: `mem_benchnote${n}_${k}`,
        org_id: g.orgId,
        agent_id: agentId,
        content: `Note ${k}: the ${TOPICS[k % TOPICS.length]} owner is team ${k}.`,
        created_at: base + k,
      }));
      if (notes.length) await db.kysely.insertInto("memory_notes").values(notes).execute();
      // The fill is setup, not load: on SQLite its pages (~100 MB of WAL at 100,000 entries) are
      // copied into the database now, rather than by the gateway's checkpointer during the
      // measurement (whose CPU counts as the gateway's).
      if (db.dialect === "sqlite") await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db.kysely);
      const fill = (performance.now() - fillStart) / 1000;
      const target = { ...g, agentId };
      await closedLoop(() => oneRun({ kind: "gateway", g: target }, HISTORY_MESSAGE), 1, 1); // warm the new agent's paths
      const cpuBefore = cpuMsOf(g.pid);
      const r = await closedLoop(() => oneRun({ kind: "gateway", g: target }, HISTORY_MESSAGE), 1, SECONDS);
      const cpu = (cpuMsOf(g.pid) - cpuBefore) / Math.max(1, r.rps * SECONDS);
      if (n === HISTORY[0]) {
        empty = r.rps;
        emptyCpu = cpu;
      }
      out(
        `| ${n.toLocaleString("en-US")} | ${notes.length} | ${fill.toFixed(1)} | ${f(r.rps)} | ${f(r.total.p50 - direct.total.p50)}/${f(r.total.p99 - direct.total.p99)} | ${(r.rps / empty).toFixed(3)} | ${cpu.toFixed(2)} | ${(emptyCpu / cpu).toFixed(3)} | ${r.errors} |`,
      );
      summary.set(`history:${n}`, r.rps / empty);
      summary.set(`historyCpu:${n}`, emptyCpu / cpu);
    }
    if (maxHistory > 0) await historyInterleaved(g, { empty: await newAgent("History 0, after"), full: fullest });
  } finally {
    await db.close();
  }
}

/**
 * The sequential figures above measure each agent once, minutes apart, so a machine that slows
 * down in between moves the ratio (0.94 and 0.56 in two runs of the same code). This measures an
 * empty agent and the fullest one in alternating one-second rounds, so drift falls on both alike.
 * The empty agent is made after the fills: the index it reads holds every fill (the other agents'
 * entries), which the sequential empty figure's did not.
 */
async function historyInterleaved(g: Gateway, agents: { empty: string; full: string }) {
  const rounds = Math.max(4, Math.round(SECONDS * 2));
  const totals = { empty: { runs: 0, seconds: 0, cpu: 0 }, full: { runs: 0, seconds: 0, cpu: 0 } };
  for (const which of ["empty", "full"] as const) await closedLoop(() => oneRun({ kind: "gateway", g: { ...g, agentId: agents[which] } }, HISTORY_MESSAGE), 1, 1);
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so neither always follows the other's leftovers.
    for (const which of i % 2 ? (["full", "empty"] as const) : (["empty", "full"] as const)) {
      const cpuBefore = cpuMsOf(g.pid);
      const r = await closedLoop(() => oneRun({ kind: "gateway", g: { ...g, agentId: agents[which] } }, HISTORY_MESSAGE), 1, 1);
      totals[which].cpu += cpuMsOf(g.pid) - cpuBefore;
      totals[which].runs += r.rps;
      totals[which].seconds += 1;
    }
  }
  const rps = (t: typeof totals.empty) => t.runs / t.seconds;
  const cpu = (t: typeof totals.empty) => t.cpu / Math.max(1, t.runs);
  const ratio = rps(totals.full) / rps(totals.empty);
  const cpuRatio = cpu(totals.empty) / cpu(totals.full);
  out(
    `\nInterleaved (${rounds} rounds of 1 s each, one table): an empty agent ${f(rps(totals.empty))} runs/s (${cpu(totals.empty).toFixed(2)} ms CPU/run), ` +
      `${maxHistory.toLocaleString("en-US")} entries ${f(rps(totals.full))} runs/s (${cpu(totals.full).toFixed(2)} ms); ratio ${ratio.toFixed(3)} (by CPU ${cpuRatio.toFixed(3)})`,
  );
  summary.set("historyInterleaved", ratio);
  summary.set("historyInterleavedCpu", cpuRatio);
}

async function streams(g: Gateway) {
  out(`\n### Streams (a delta every 500 ms, held ${STREAM_SECONDS} s)\n`);
  out("| N | RSS before (MB) | RSS peak (MB) | per stream (KB) | errors | event-loop delay p99 / max (ms) |");
  out("|---|---|---|---|---|---|");
  for (const n of STREAMS) {
    await sleep(2_000);
    const before = rssOf(g.pid);
    await diagnostics(g, true);
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssOf(g.pid));
    }, 250);
    const results = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        await sleep((i % 100) * 10); // ramp up over ~1 s rather than one burst of n connects
        return oneRun({ kind: "gateway", g }, "[slow] stream");
      }),
    );
    clearInterval(sampler);
    const diag = await diagnostics(g);
    const errors = results.filter((r) => !r.ok).length;
    out(
      `| ${n} | ${f(before / 2 ** 20)} | ${f(peak / 2 ** 20)} | ${f((peak - before) / n / 1024)} | ${errors} | ${diag.eventLoopDelayMs.p99} / ${diag.eventLoopDelayMs.max} |`,
    );
    summary.set(`stream:${n}`, (peak - before) / n / 1024);
    summary.set(`streamErrors:${n}`, errors);
  }
}

async function plainApi(g: Gateway, helloUrl: string) {
  const run = (url: string, headers: Record<string, string> = {}) =>
    new Promise<autocannon.Result>((resolve, reject) =>
      autocannon({ url, connections: 50, duration: SECONDS, headers }, (error, result) => (error ? reject(error) : resolve(result))),
    );
  const hello = await run(`${helloUrl}/`);
  const cpuBefore = cpuMsOf(g.pid);
  const keyed = await run(`${g.url}/v1/orgs/${g.orgId}/agents`, { authorization: `Bearer ${g.key}` });
  summary.set("keyedCpu", (cpuMsOf(g.pid) - cpuBefore) / Math.max(1, keyed.requests.total));
  out("\n### Plain API (autocannon, 50 connections)\n");
  out("| target | req/s (mean) | p50 ms | p99 ms | non-2xx | errors |");
  out("|---|---|---|---|---|---|");
  out(
    `| hello-world (bare Hono) | ${f(hello.requests.average)} | ${hello.latency.p50} | ${hello.latency.p99} | ${hello.non2xx} | ${hello.errors} |`,
  );
  out(
    `| GET /v1/orgs/:orgId/agents (API key) | ${f(keyed.requests.average)} | ${keyed.latency.p50} | ${keyed.latency.p99} | ${keyed.non2xx} | ${keyed.errors} |`,
  );
  out(`\n**Keyed GET / hello-world: ${(keyed.requests.average / hello.requests.average).toFixed(3)}**`);
  summary.set("keyed", keyed.requests.average / hello.requests.average);
}

/**
 * What a run's SQL costs, seen from inside the gateway (OPENPAW_DIAGNOSTICS_SQL: each statement's
 * time by its text, `begin` and `commit` included): a gateway of its own on the same database and
 * account, since the timing hook adds two awaits to every statement and the other phases run
 * without it. Fast runs at concurrency 1; per run, the costliest statements.
 */
async function statements(g: Gateway, modelUrl: string, dataDir: string) {
  const timed = await startGateway(g.databaseUrl, modelUrl, dataDir, { account: g, env: { OPENPAW_DIAGNOSTICS_SQL: "true" } });
  try {
    await closedLoop(() => oneRun({ kind: "gateway", g: timed }, "Hello"), 1, 2);
    await diagnostics(timed, true);
    await closedLoop(() => oneRun({ kind: "gateway", g: timed }, "Hello"), 1, SECONDS);
    const window = (await diagnostics(timed)).statements;
    if (!window) throw new Error("the gateway reported no statement timings");
    // Each run inserts its one row: the count of that statement is the count of runs.
    const runs = window.top.find((t) => t.sql.startsWith('insert into "runs"'))?.count ?? 0;
    const commits = window.top.find((t) => t.sql === "commit")?.count ?? 0;
    out(`\n### SQL per run (fast model, concurrency 1, ${runs} runs; time inside the gateway per statement text)\n`);
    out(
      `Per run: ${(window.count / Math.max(1, runs)).toFixed(1)} statements, ${(commits / Math.max(1, runs)).toFixed(1)} commits, ` +
        `${((window.totalMs * 1000) / Math.max(1, runs)).toFixed(0)} µs of SQL${g.databaseUrl.startsWith("sqlite:") ? "" : " (round trips included)"}.\n`,
    );
    out("| statement | per run | µs each | µs per run | share |");
    out("|---|---|---|---|---|");
    for (const t of window.top.slice(0, 15)) {
      const text = t.sql.replace(/\s+/g, " ").replace(/\|/g, "\\|").slice(0, 90);
      out(
        `| \`${text}\` | ${(t.count / Math.max(1, runs)).toFixed(2)} | ${t.meanUs.toFixed(1)} | ${((t.totalMs * 1000) / Math.max(1, runs)).toFixed(1)} | ${((100 * t.totalMs) / window.totalMs).toFixed(1)} % |`,
      );
    }
    // The plain API phase's request, one at a time: what a keyed GET asks of the database.
    const gets = 500;
    await diagnostics(timed, true);
    for (let i = 0; i < gets; i++) {
      const res = await fetch(`${timed.url}/v1/orgs/${timed.orgId}/agents`, { headers: { authorization: `Bearer ${timed.key}` } });
      if (res.status !== 200) throw new Error(`keyed GET answered ${res.status}`);
      await res.arrayBuffer();
    }
    const api = (await diagnostics(timed)).statements;
    if (!api) throw new Error("the gateway reported no statement timings");
    out(
      `\nPer keyed \`GET /v1/orgs/:orgId/agents\` (${gets}, one at a time): ${(api.count / gets).toFixed(2)} statements, ` +
        `${((api.totalMs * 1000) / gets).toFixed(0)} µs of SQL: ` +
        api.top
          .slice(0, 6)
          .map((t) => `\`${t.sql.replace(/\s+/g, " ").slice(0, 60)}\` ×${(t.count / gets).toFixed(2)} ${t.meanUs.toFixed(1)} µs`)
          .join("; "),
    );
  } finally {
    await timed.stop();
  }
}

/**
 * One gateway process against two on the same PostgreSQL database (with Redis when REDIS_URL is
 * set, as replicas run), the load split round-robin between them, in the same run. The embedded
 * SQLite default stays one process (docs/deployment.md, "Process model"); this is what a second
 * process on the same machine buys the PostgreSQL deployment.
 */
async function processes(g: Gateway, modelUrl: string, dataDir: string) {
  out(`\n### One gateway process vs two on the same database (fast model${env.REDIS_URL ? ", Redis" : ""})\n`);
  out("| conc | 1 process runs/s | 2 processes runs/s | 2 ÷ 1 | total p99 1 / 2 ms | CPU ms per run 1 / 2 | errors 1 + 2 |");
  out("|---|---|---|---|---|---|---|");
  const second = await startGateway(g.databaseUrl, modelUrl, `${dataDir}-2`, { account: g, redisUrl: env.REDIS_URL });
  try {
    await closedLoop(() => oneRun({ kind: "gateway", g: second }, "Hello"), 8, 2);
    for (const c of [4, 16]) {
      let cpu = cpuMsOf(g.pid);
      const one = await closedLoop(() => oneRun({ kind: "gateway", g }, "Hello"), c, SECONDS);
      const cpuOne = (cpuMsOf(g.pid) - cpu) / Math.max(1, one.rps * SECONDS);
      cpu = cpuMsOf(g.pid) + cpuMsOf(second.pid);
      let turn = 0;
      const two = await closedLoop(() => oneRun({ kind: "gateway", g: turn++ % 2 === 0 ? g : second }, "Hello"), c, SECONDS);
      const cpuTwo = (cpuMsOf(g.pid) + cpuMsOf(second.pid) - cpu) / Math.max(1, two.rps * SECONDS);
      out(
        `| ${c} | ${f(one.rps)} | ${f(two.rps)} | ${(two.rps / one.rps).toFixed(2)} | ${f(one.total.p99)} / ${f(two.total.p99)} | ` +
          `${cpuOne.toFixed(2)} / ${cpuTwo.toFixed(2)} | ${one.errors} + ${two.errors} |`,
      );
      summary.set(`processes:${c}`, two.rps / one.rps);
    }
  } finally {
    await second.stop();
  }
}

// ---------------------------------------------------------------- main

async function main() {
  out(`# OpenPaw benchmark ${new Date().toISOString()}`);
  out(
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  out(
    `Settings: ${SECONDS} s per measurement, concurrency ${CONCURRENCY.join(",")}, capacity levels ${LEVELS.join(",")}, streams ${STREAMS.join(",")} for ${STREAM_SECONDS} s`,
  );
  out(`Gateway: ${GATEWAY === "bundle" ? "build/gateway.mjs (bin/build.mjs, as npm start runs it)" : "src/main.ts through tsx"}`);
  if (GATEWAY === "bundle") execFileSync(process.execPath, ["bin/build.mjs"], { cwd: ROOT, stdio: "inherit" });
  const model = child(["bench/fake-model.ts"], { BENCH_SLOW_SECONDS: String(STREAM_SECONDS) });
  const modelUrl = JSON.parse(await model.line).url as string;
  const hello = child(["bench/hello.ts"], {});
  const helloUrl = JSON.parse(await hello.line).url as string;

  const databases: Array<{ label: string; url: string; drop?: () => Promise<void> }> = [];
  const dataDir = mkdtempSync(join(tmpdir(), "openpaw-bench-"));
  databases.push({ label: "SQLite", url: `sqlite:${join(dataDir, "sqlite", "openpaw.db")}` });
  if (env.TEST_DATABASE_URL) {
    const name = `openpaw_bench_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: env.TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(env.TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    databases.push({
      label: "PostgreSQL",
      url: url.toString(),
      drop: async () => {
        const c = new pg.Client({ connectionString: env.TEST_DATABASE_URL });
        await c.connect();
        await c.query(`drop database if exists ${name} with (force)`);
        await c.end();
      },
    });
  }
  try {
    for (const db of databases) {
      out(`\n## ${db.label}`);
      const g = await startGateway(db.url, modelUrl, join(dataDir, db.label.toLowerCase()));
      try {
        // Warm up JIT, connection pools and the key cache (2 s left the first step, overhead at
        // concurrency 1, reading 1-3 ms slower than the same workload later in the same run).
        await closedLoop(() => oneRun({ kind: "gateway", g }, "Hello"), 8, WARMUP_SECONDS);
        if (ONLY.has("overhead")) await overhead(g, modelUrl);
        if (ONLY.has("capacity")) await capacity(g, modelUrl);
        if (ONLY.has("eventlog")) await eventLog(g);
        // The keyed GET lists the org's agents: before the HISTORY phase adds four, so the list
        // is the one agent it held when the issue measured it (with five, a GET costs ~15-25 % more).
        if (ONLY.has("api")) await plainApi(g, helloUrl);
        if (ONLY.has("history")) await historyScaling(g, modelUrl);
        // Two processes on one database: PostgreSQL only (the embedded SQLite default is one process by design).
        if (ONLY.has("processes") && db.label === "PostgreSQL") await processes(g, modelUrl, join(dataDir, "postgresql"));
        // Streams on SQLite only: held streams barely touch the database.
        if (ONLY.has("streams") && db.label === "SQLite") await streams(g);
      } finally {
        await g.stop();
      }
      if (ONLY.has("statements")) await statements(g, modelUrl, join(dataDir, `${db.label.toLowerCase()}-statements`));
      printSummary(db.label);
      summary.clear();
    }
  } finally {
    for (const db of databases) await db.drop?.().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
  out(
    `\nLoad average at end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  writeFileSync(join(tmpdir(), "openpaw-bench-latest.md"), `${lines.join("\n")}\n`);
  console.log(`\n(results also in ${join(tmpdir(), "openpaw-bench-latest.md")})`);
}

main()
  .then(async () => {
    for (const c of children) c.kill("SIGTERM");
    if (existsSync(join(ROOT, "bench/usage.ts")) && env.BENCH_SKIP_USAGE !== "1") {
      console.log("\n== bench/usage.ts");
      const usage = spawn(process.execPath, ["--import", "tsx", "bench/usage.ts"], { cwd: ROOT, stdio: "inherit" });
      await new Promise((r) => usage.once("exit", r));
    }
    await dispatcher.close();
    process.exit(0);
  })
  .catch((error) => {
    console.error(error);
    for (const c of children) c.kill("SIGTERM");
    process.exit(1);
  });
