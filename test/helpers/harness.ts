import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createApp } from "../../src/app";
import { type Config, loadConfig } from "../../src/config";
import { type RunningServer, startServer } from "../../src/server";
import { type Services, createServices } from "../../src/services";
import { createLogger } from "../../src/lib/logger";

/** Which database this run's suites use: PostgreSQL when TEST_DATABASE_URL is set, else SQLite. */
export const testDatabase = process.env.TEST_DATABASE_URL ? "postgres" : "sqlite";

export interface Harness {
  services: Services;
  config: Config;
  /** Log lines written by the app during the test (for leak checks). */
  logs: string[];
  /** Calls the app in process (no socket), like a client would. */
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  /** Signs up a fresh user with its own org; returns its cookie and ids. */
  signup(options?: { email?: string; orgName?: string }): Promise<Account>;
  /** Creates an API key in an org with the given scopes, using the owner's session. */
  createKey(account: Account, body?: Record<string, unknown>): Promise<{ id: string; key: string }>;
  /** Serves the app over real HTTP (for streaming and disconnect tests). */
  listen(): Promise<RunningServer>;
  close(): Promise<void>;
}

export interface Account {
  cookie: string;
  userId: string;
  orgId: string;
  email: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Raw body text, sent as is. */
  raw?: string;
  key?: string;
  cookie?: string;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

let counter = 0;

/** Env for a test app: the given overrides on top of a temp data dir and a fast password hash. */
export function testEnv(dataDir: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    OPENPAW_DATA_DIR: dataDir,
    OPENPAW_PASSWORD_HASH_COST: "10",
    LOG_LEVEL: "debug",
    PORT: "0",
    ...overrides,
  };
}

/** A fresh PostgreSQL schema in TEST_DATABASE_URL's database; returns its URL and a dropper. */
export async function freshPostgresSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL as string;
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${++counter}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  await client.query(`create schema "${schema}"`);
  await client.end();
  const url = new URL(base);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop schema "${schema}" cascade`);
      await c.end();
    },
  };
}

/** Builds a complete app on a fresh database (SQLite file or PostgreSQL schema). */
export async function createHarness(env: Record<string, string> = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), "openpaw-test-"));
  // Sandboxes run as an unprivileged user when tests run as root: it must reach the workspaces.
  chmodSync(dataDir, 0o755);
  const pgSchema = testDatabase === "postgres" && !env.DATABASE_URL ? await freshPostgresSchema() : null;
  const config = loadConfig(testEnv(dataDir, { ...(pgSchema ? { DATABASE_URL: pgSchema.url } : {}), ...env }));
  const logs: string[] = [];
  const logger = createLogger(config.logLevel, { write: (line) => logs.push(line) });
  const services = await createServices(config, { logger });
  const app = createApp(services);
  const servers: RunningServer[] = [];

  const request: Harness["request"] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    if (options.cookie) headers.cookie = options.cookie;
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    if (body !== undefined) headers["content-length"] ??= String(Buffer.byteLength(body));
    const res = await app.request(path, { method, headers, body });
    const text = await res.text();
    let parsed: any = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };

  const harness: Harness = {
    services,
    config,
    logs,
    request,
    async signup(options = {}) {
      const email = options.email ?? `user${++counter}_${Math.random().toString(36).slice(2, 8)}@example.com`;
      const res = await request("POST", "/v1/auth/signup", {
        body: { email, password: "correct horse battery", orgName: options.orgName ?? "Test org" },
      });
      if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${res.text}`);
      const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
      return { cookie, userId: res.body.user.id, orgId: res.body.org.id, email };
    },
    async createKey(account, body = { scopes: ["admin"] }) {
      const res = await request("POST", `/v1/orgs/${account.orgId}/api-keys`, { cookie: account.cookie, body });
      if (res.status !== 201) throw new Error(`createKey failed: ${res.status} ${res.text}`);
      return { id: res.body.id, key: res.body.key };
    },
    async listen() {
      const server = await startServer(services, { port: 0, host: "127.0.0.1" });
      servers.push(server);
      return server;
    },
    async close() {
      if (servers.length) await Promise.all(servers.map((s) => s.stop()));
      else await services.close();
      await pgSchema?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}
