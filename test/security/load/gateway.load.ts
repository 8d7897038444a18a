/**
 * Load (`npm run test:load`): 200 concurrent clients mixing chats with the fake model and API
 * calls against a real server child for OPENPAW_LOAD_SECONDS (default 60). Zero 5xx, every run
 * has exactly one usage record, and the server's RSS shows no growth trend over the last 30 s.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startFakeAnthropic } from "../../fakes/anthropic";
import type { FakeModelServer } from "../../fakes/model-script";
import { type ServerProcess, bootstrapKey, checkIntegrity, openDataDir, rssOf, serverEnv, startServerProcess } from "../process";
import { SONNET } from "../support";

const SECONDS = Number(process.env.OPENPAW_LOAD_SECONDS ?? 60);
const CLIENTS = Number(process.env.OPENPAW_LOAD_CLIENTS ?? 200);

let model: FakeModelServer;
let dataDir: string;
let server: ServerProcess;
let key: string;
let orgId: string;

beforeAll(async () => {
  model = await startFakeAnthropic();
  model.setFallback(() => ({ text: "a short streamed answer for the load test", textChunks: 5, delayMs: 5 }));
  dataDir = mkdtempSync(join(tmpdir(), "openpaw-load-"));
  const plans = join(dataDir, "plans.json");
  writeFileSync(
    plans,
    JSON.stringify([
      {
        id: "load",
        name: "Load",
        priceMonthly: 0,
        tokenLimit: null,
        overageRate: null,
        toolTier: "free",
        maxAgents: null,
        maxConcurrentRuns: 10_000,
        workspaceBytes: 0,
      },
    ]),
  );
  const env = serverEnv(dataDir, {
    ANTHROPIC_API_KEY: "sk-ant-load",
    ANTHROPIC_BASE_URL: model.url,
    OPENPAW_PLANS_FILE: plans,
    OPENPAW_DEFAULT_PLAN: "load",
    OPENPAW_CONCURRENT_RUNS_PER_KEY: "10000",
    OPENPAW_CONCURRENT_RUNS_PER_ORG: "10000",
    // A sized heap, as docs/deployment.md recommends: without a cap V8 grows its heap towards
    // the machine's memory before collecting, and RSS would show that laziness, not a leak.
    NODE_OPTIONS: "--max-old-space-size=256",
  });
  ({ key, orgId } = await bootstrapKey(env));
  server = await startServerProcess(env);
}, 90_000);

afterAll(async () => {
  server?.child.kill("SIGTERM");
  await server?.exited;
  await model?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

it(`${CLIENTS} clients for ${SECONDS} s: no 5xx, no lost usage, stable memory`, async () => {
  const base = server.url;
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const agents: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${base}/v1/orgs/${orgId}/agents`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: `load ${i}`, model: SONNET }),
    });
    agents.push(((await res.json()) as { id: string }).id);
  }
  const statuses = new Map<number, number>();
  const fiveHundreds: string[] = [];
  let chats = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const rss: Array<[number, number]> = [];
  const sampler = setInterval(() => rss.push([Date.now(), rssOf(server.child.pid as number)]), 1000);

  const client = async (n: number) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const agent = agents[(n + i) % agents.length];
      const kind = (n + i) % 4;
      let res: Response;
      if (kind === 0) {
        chats++;
        res = await fetch(`${base}/v1/agent/${agent}/chat`, { method: "POST", headers, body: JSON.stringify({ message: `hi ${n}.${i}` }) });
      } else if (kind === 1) {
        chats++;
        res = await fetch(`${base}/v1/agent/${agent}/chat`, {
          method: "POST",
          headers,
          body: JSON.stringify({ message: `json ${n}.${i}`, stream: false }),
        });
      } else if (kind === 2) {
        res = await fetch(`${base}/v1/orgs/${orgId}/usage?limit=20`, { headers });
      } else {
        res = await fetch(`${base}/v1/orgs/${orgId}/agents/${agent}`, {
          method: "PATCH",
          headers,
          body: JSON.stringify({ description: `client ${n}` }),
        });
      }
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500 || /event: error/.test(text)) fiveHundreds.push(`${res.status} ${text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  clearInterval(sampler);

  // Runs settle after their streams close.
  await new Promise((r) => setTimeout(r, 1000));
  const db = openDataDir(dataDir);
  const integrity = await checkIntegrity(db.kysely);
  await db.close();

  // Growth trend of the last 30 s (or the last half of a shorter run): least-squares slope.
  const window = rss.slice(-Math.min(30, Math.ceil(rss.length / 2)));
  const xs = window.map(([t]) => (t - window[0][0]) / 1000);
  const ys = window.map(([, v]) => v / 1048576);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const slope =
    xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) /
    Math.max(
      1e-9,
      xs.reduce((a, x) => a + (x - mx) ** 2, 0),
    );
  const growthMb = slope * (xs.at(-1) ?? 0);

  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  console.log(
    `load: ${CLIENTS} clients x ${SECONDS} s, ${total} requests (${chats} chats), statuses ${JSON.stringify(Object.fromEntries(statuses))}, ` +
      `${integrity.runs} runs = ${integrity.usageRecords} usage records, RSS ${my.toFixed(0)} MB mean, trend ${slope.toFixed(3)} MB/s (${growthMb.toFixed(1)} MB over the window)`,
  );
  expect(fiveHundreds.slice(0, 5)).toEqual([]);
  expect(integrity.problems.slice(0, 5)).toEqual([]);
  expect(integrity.usageRecords).toBe(integrity.runs);
  expect(growthMb).toBeLessThan(Math.max(20, my * 0.1));
}, 600_000);
