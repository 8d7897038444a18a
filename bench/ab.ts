/**
 * A/B of gateway CPU per operation (`node --import tsx bench/ab.ts`): one gateway from each of two
 * source trees, against one fake model, measured in interleaved blocks (A, B, B, A, ...) so that
 * the load of a shared machine falls on both alike; prints the median CPU per run (concurrency 1)
 * and per keyed GET /v1/orgs/:orgId/agents of each, from /proc/<pid>/stat. A tree is a checkout
 * with node_modules, e.g. `git archive <commit> | tar -x -C /tmp/base && ln -s $PWD/node_modules /tmp/base/`.
 *
 * Knobs: BENCH_AB_TREES (two paths, comma-separated; default /tmp/base and this tree; a path may
 * end in `:bundle` to run that tree's build/gateway.mjs, built first, instead of its TypeScript
 * through tsx: `BENCH_AB_TREES=$PWD,$PWD:bundle` measures the bundle against tsx on one tree;
 * BENCH_AB_SOURCE_MAPS=0 runs a bundle without --enable-source-maps),
 * BENCH_AB_ROUNDS (10), BENCH_AB_RUNS per block (150), BENCH_AB_GETS per block (1500),
 * BENCH_AB_CONCURRENCY of the GETs (10).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { benchGatewayEnv, cpuMsOf } from "./gateway-env";
const trees = (process.env.BENCH_AB_TREES ?? `/tmp/base,${join(import.meta.dirname, "..")}`).split(",");
const dirs: string[] = [];
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 10);
const RUNS = Number(process.env.BENCH_AB_RUNS ?? 150);
const GETS = Number(process.env.BENCH_AB_GETS ?? 1500);
const CONC = Number(process.env.BENCH_AB_CONCURRENCY ?? 10);
const dispatcher = new Agent({ connections: null, pipelining: 1, keepAliveTimeout: 30_000 });
const line = (p: any) =>
  new Promise<string>((r) => {
    let b = "";
    p.stdout.on("data", (d: Buffer) => {
      b += d;
      if (b.includes("\n")) r(b.split("\n")[0]);
    });
  });
const ROOT = join(import.meta.dirname, "..");
const model = spawn(process.execPath, ["--import", "tsx", "bench/fake-model.ts"], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
const modelUrl = JSON.parse(await line(model)).url;
const gws: any[] = [];
for (const spec of trees) {
  const [tree, entry = "tsx"] = spec.split(":");
  if (entry === "bundle") await new Promise((r) => spawn(process.execPath, ["bin/build.mjs"], { cwd: tree, stdio: "inherit" }).on("exit", r));
  const args = entry === "bundle" ? (process.env.BENCH_AB_SOURCE_MAPS === "0" ? [] : ["--enable-source-maps"]).concat("build/gateway.mjs", "serve") : ["--import", "tsx", "src/main.ts", "serve"];
  const dir = mkdtempSync(join(tmpdir(), "openpaw-ab-"));
  dirs.push(dir);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const proc = spawn(process.execPath, args, {
    cwd: tree,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ...benchGatewayEnv({ port, databaseUrl: `sqlite:${dir}/db.sqlite`, modelUrl, dataDir: dir }) },
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  const post = async (path: string, body: unknown, headers: Record<string, string>) => {
    const r = await fetch(url + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { r, b: (await r.json()) as any };
  };
  const su = await post("/v1/auth/signup", { email: `a${Date.now()}@example.com`, password: "correct horse battery", orgName: "B" }, {});
  const cookie = (su.r.headers.get("set-cookie") ?? "").split(";")[0];
  const orgId = su.b.org.id;
  const ag = await post(
    `/v1/orgs/${orgId}/agents`,
    { name: "Bench", systemPrompt: "Be brief.", model: "claude-sonnet-4-20250514", enabledTools: [] },
    { cookie },
  );
  const key = (await post(`/v1/orgs/${orgId}/api-keys`, { scopes: ["chat", "read"] }, { cookie })).b.key;
  const chat = async () => {
    const r = await request(`${url}/v1/agent/${ag.b.id}/chat`, {
      method: "POST",
      dispatcher,
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ message: "Hello" }),
    });
    const t = await r.body.text();
    if (!t.includes("event: done")) throw new Error(t);
  };
  const get = async () => {
    const r = await request(`${url}/v1/orgs/${orgId}/agents`, { dispatcher, headers: { authorization: `Bearer ${key}` } });
    await r.body.text();
    if (r.statusCode !== 200) throw new Error(String(r.statusCode));
  };
  gws.push({ tree: spec, pid: proc.pid, proc, chat, get, run: [] as number[], getc: [] as number[] });
}
const par = async (n: number, c: number, f: () => Promise<void>) => {
  let i = 0;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (i++ < n) await f();
    }),
  );
};
for (const g of gws) {
  await par(200, 1, g.chat);
  await par(2000, CONC, g.get);
}
for (let r = 0; r < ROUNDS; r++)
  for (const g of r % 2 ? [...gws].reverse() : gws) {
    let c0 = cpuMsOf(g.pid);
    await par(RUNS, 1, g.chat);
    g.run.push((cpuMsOf(g.pid) - c0) / RUNS);
    c0 = cpuMsOf(g.pid);
    await par(GETS, CONC, g.get);
    g.getc.push((cpuMsOf(g.pid) - c0) / GETS);
  }
const med = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};
for (const g of gws)
  console.log(
    `${g.tree}: CPU/run median ${med(g.run).toFixed(2)} ms [${g.run.map((x: number) => x.toFixed(1)).join(" ")}]  CPU/GET median ${med(g.getc).toFixed(3)} ms [${g.getc.map((x: number) => x.toFixed(2)).join(" ")}]`,
  );
for (const g of gws) g.proc.kill("SIGTERM");
model.kill("SIGTERM");
await new Promise((r) => setTimeout(r, 500));
for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
process.exit(0);
