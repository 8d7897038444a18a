import { resolve } from "node:path";

/**
 * Typed configuration. This module is the only reader of `process.env` (DESIGN.md §3); everything
 * else receives a `Config` (or the part of it that it needs).
 */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string;
  redisUrl: string | null;
  publicUrl: string;
  logLevel: LogLevel;
  signup: "open" | "closed";
  /** Emails (lower-cased) of the instance's operators: they see every org and set plans (OPENPAW_OPERATOR_EMAILS). */
  operatorEmails: string[];
  defaultPlan: string;
  plansFile: string | null;
  modelsFile: string | null;
  anthropic: { apiKey: string | null; baseUrl: string | null };
  openai: { apiKey: string | null; baseUrl: string | null };
  search: {
    braveApiKey: string | null;
    braveSearchUrl: string | null;
    searxngUrl: string | null;
    tavilyApiKey: string | null;
  };
  /** host[:port] entries exempt from the outbound private-address block (tests only). */
  fetchAllowlist: string[];
  /** Pro tools: the bubblewrap sandbox pool and the browser (docs/sandbox.md). */
  sandbox: {
    /** Org sandboxes kept live per gateway; more orgs wait in line. */
    maxLive: number;
    /** An idle org sandbox is put to sleep after this long. */
    idleMs: number;
    chromiumPath: string;
  };
  stripe: {
    secretKey: string | null;
    webhookSecret: string | null;
    apiBase: string | null;
    pricePro: string | null;
    priceAgency: string | null;
  };
  domains: {
    cnameTarget: string;
    dnsServers: string[];
    requireCname: boolean;
  };
  /** 32-byte key for secrets at rest; null refuses to store secrets. */
  secretKey: Uint8Array | null;
  /** MCP servers: deadline of one operation (connect + list tools, or connect + call). */
  mcp: { timeoutMs: number };
  /** Durable runs (DESIGN.md §6). */
  runs: {
    /** A gateway that stops renewing its claim on a run for this long is taken to be gone; its runs are continued or ended. */
    leaseMs: number;
    /** Background runs an org may have waiting for a concurrency slot; more are refused with 429. */
    maxQueuedPerOrg: number;
    /** How long a run's event log is kept after the run ends. */
    eventsRetentionMs: number;
    /** A tool call waiting for an approval this long is denied (OPENPAW_APPROVAL_TIMEOUT_HOURS, fractions allowed). */
    approvalTimeoutMs: number;
    /** How often each gateway looks for approvals past their timeout. */
    approvalSweepMs: number;
  };
  /** Run webhooks and schedules (DESIGN.md §6). */
  unattended: {
    /** How often each gateway looks for webhook deliveries that are due. */
    webhookSweepMs: number;
    /** How often each gateway looks for schedules whose tick is due. */
    scheduleSweepMs: number;
  };
  /** How long an `Idempotency-Key` replays its first response (OPENPAW_IDEMPOTENCY_TTL_HOURS). */
  idempotencyTtlMs: number;
  /**
   * OpenTelemetry traces (README "Tracing"), on when OTEL_EXPORTER_OTLP_ENDPOINT (or
   * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: the OTLP/HTTP URL spans are sent to.
   */
  tracing: { tracesUrl: string; serviceName: string } | null;
  /** Request rate limits per API key and per org, from the plan table (README "Rate limits"). */
  rateLimits: {
    /** OPENPAW_RATE_LIMITS=false turns them off (e.g. a gateway behind a proxy that limits). */
    enabled: boolean;
    /** Length of the fixed window the plan's limits count in (OPENPAW_RATE_LIMIT_WINDOW_SECONDS). */
    windowSeconds: number;
  };
  security: {
    /** log2 of scrypt's N. 15 (32 MiB per hash) in production; tests lower it. */
    passwordHashCost: number;
    sessionTtlMs: number;
    /** Trust X-Forwarded-For / X-Forwarded-Proto from a reverse proxy in front of the gateway. */
    trustProxy: boolean;
    /** Serve GET /internal/diagnostics (event-loop delay, memory) to loopback clients only; for benchmarks. */
    diagnostics: boolean;
    /** Also time every SQL statement and report the costliest in the diagnostics (OPENPAW_DIAGNOSTICS_SQL; needs OPENPAW_DIAGNOSTICS). */
    diagnosticsSql: boolean;
    /** Measure and serve GET /metrics (Prometheus text) to loopback clients only (OPENPAW_METRICS). */
    metrics: boolean;
  };
  limits: {
    /** Largest accepted request body, in bytes. */
    maxBodyBytes: number;
    /** Largest file upload to the files API (also the largest file it serves), in bytes. */
    maxUploadBytes: number;
    /** Concurrent chat runs per API key (or session user) and per org. */
    concurrentRunsPerKey: number;
    concurrentRunsPerOrg: number;
    /** Tool output handed to the model is cut at this many characters. */
    toolOutputChars: number;
    /** How long a graceful shutdown waits for in-flight requests and runs. */
    shutdownGraceMs: number;
    /** Interval of `: ping` comments on idle SSE streams. */
    ssePingMs: number;
  };
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

/** Reads and validates the environment; throws `ConfigError` naming the variable on bad values. */
export function loadConfig(env: Env = process.env): Config {
  const str = (name: string): string | null => {
    const value = env[name]?.trim();
    return value ? value : null;
  };
  const int = (name: string, fallback: number, min = 0): number => {
    const raw = str(name);
    if (raw === null) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
    return value;
  };
  const positive = (name: string, fallback: number): number => {
    const raw = str(name);
    if (raw === null) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`${name} must be a number > 0, got "${raw}"`);
    return value;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = str(name)?.toLowerCase();
    if (raw === undefined || raw === null) return fallback;
    if (["1", "true", "yes", "on"].includes(raw)) return true;
    if (["0", "false", "no", "off"].includes(raw)) return false;
    throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  };
  const list = (name: string): string[] =>
    (str(name) ?? "")
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);

  const dataDir = resolve(str("OPENPAW_DATA_DIR") ?? "./data");
  const port = int("PORT", 8787, 0);
  // The default follows PORT, so /openapi.json's server URL and the dashboard's links are right on
  // any port (0, "any free port", is only known after listening: tests and benchmarks set the URL).
  const publicUrl = (str("OPENPAW_PUBLIC_URL") ?? `http://localhost:${port || 8787}`).replace(/\/+$/, "");
  let publicHost: string;
  try {
    publicHost = new URL(publicUrl).hostname;
  } catch {
    throw new ConfigError(`OPENPAW_PUBLIC_URL must be an absolute URL, got "${publicUrl}"`);
  }

  const logLevel = (str("LOG_LEVEL") ?? "info").toLowerCase();
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of debug, info, warn, error, got "${logLevel}"`);
  }
  if (bool("OPENPAW_DIAGNOSTICS_SQL", false) && !bool("OPENPAW_DIAGNOSTICS", false)) {
    throw new ConfigError("OPENPAW_DIAGNOSTICS_SQL reports through GET /internal/diagnostics: set OPENPAW_DIAGNOSTICS=true too");
  }
  const signup = (str("OPENPAW_SIGNUP") ?? "open").toLowerCase();
  if (signup !== "open" && signup !== "closed") throw new ConfigError(`OPENPAW_SIGNUP must be open or closed, got "${signup}"`);

  const databaseUrl = str("DATABASE_URL") ?? `sqlite:${resolve(dataDir, "openpaw.db")}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError("DATABASE_URL must start with sqlite: or postgres://");
  }

  let secretKey: Uint8Array | null = null;
  const rawSecret = str("OPENPAW_SECRET_KEY");
  if (rawSecret) {
    const bytes = Buffer.from(rawSecret, "base64");
    if (bytes.length !== 32) {
      throw new ConfigError("OPENPAW_SECRET_KEY must be 32 bytes, base64-encoded (generate one with: openssl rand -base64 32)");
    }
    secretKey = new Uint8Array(bytes);
  }

  return {
    port,
    host: str("HOST") ?? "127.0.0.1",
    dataDir,
    databaseUrl,
    redisUrl: str("REDIS_URL"),
    publicUrl,
    logLevel: logLevel as LogLevel,
    signup,
    operatorEmails: list("OPENPAW_OPERATOR_EMAILS").map((e) => e.toLowerCase()),
    defaultPlan: str("OPENPAW_DEFAULT_PLAN") ?? "free",
    plansFile: str("OPENPAW_PLANS_FILE"),
    modelsFile: str("OPENPAW_MODELS_FILE"),
    anthropic: { apiKey: str("ANTHROPIC_API_KEY"), baseUrl: str("ANTHROPIC_BASE_URL") },
    openai: { apiKey: str("OPENAI_API_KEY"), baseUrl: str("OPENAI_BASE_URL") },
    search: {
      braveApiKey: str("BRAVE_API_KEY"),
      braveSearchUrl: str("BRAVE_SEARCH_URL"),
      searxngUrl: str("SEARXNG_URL"),
      tavilyApiKey: str("TAVILY_API_KEY"),
    },
    fetchAllowlist: list("OPENPAW_FETCH_ALLOWLIST"),
    sandbox: {
      maxLive: int("OPENPAW_SANDBOX_MAX_LIVE", 8, 1),
      idleMs: int("OPENPAW_SANDBOX_IDLE_MS", 600_000, 1000),
      chromiumPath: str("OPENPAW_CHROMIUM_PATH") ?? "/usr/bin/chromium",
    },
    stripe: {
      secretKey: str("STRIPE_SECRET_KEY"),
      webhookSecret: str("STRIPE_WEBHOOK_SECRET"),
      apiBase: str("STRIPE_API_BASE"),
      pricePro: str("STRIPE_PRICE_PRO"),
      priceAgency: str("STRIPE_PRICE_AGENCY"),
    },
    domains: {
      cnameTarget: str("OPENPAW_CNAME_TARGET") ?? publicHost,
      dnsServers: list("OPENPAW_DNS_SERVERS"),
      requireCname: bool("OPENPAW_REQUIRE_CNAME", false),
    },
    secretKey,
    mcp: { timeoutMs: int("OPENPAW_MCP_TIMEOUT_MS", 30_000, 100) },
    runs: {
      leaseMs: int("OPENPAW_RUN_LEASE_SECONDS", 30, 1) * 1000,
      maxQueuedPerOrg: int("OPENPAW_MAX_QUEUED_RUNS_PER_ORG", 1000, 1),
      eventsRetentionMs: int("OPENPAW_RUN_EVENTS_RETENTION_HOURS", 168, 0) * 3_600_000,
      approvalTimeoutMs: Math.round(positive("OPENPAW_APPROVAL_TIMEOUT_HOURS", 24) * 3_600_000),
      approvalSweepMs: int("OPENPAW_APPROVAL_SWEEP_SECONDS", 60, 1) * 1000,
    },
    unattended: {
      webhookSweepMs: int("OPENPAW_WEBHOOK_SWEEP_MS", 1_000, 10),
      scheduleSweepMs: int("OPENPAW_SCHEDULE_SWEEP_MS", 15_000, 10),
    },
    idempotencyTtlMs: int("OPENPAW_IDEMPOTENCY_TTL_HOURS", 24, 1) * 3_600_000,
    tracing: (() => {
      // The standard variables: the traces endpoint as it is, or the base endpoint + /v1/traces.
      const traces = str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
      const base = str("OTEL_EXPORTER_OTLP_ENDPOINT");
      const tracesUrl = traces ?? (base ? `${base.replace(/\/+$/, "")}/v1/traces` : null);
      if (!tracesUrl) return null;
      if (!/^https?:\/\//.test(tracesUrl)) throw new ConfigError(`OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got "${tracesUrl}"`);
      return { tracesUrl, serviceName: str("OTEL_SERVICE_NAME") ?? "openpaw" };
    })(),
    rateLimits: {
      enabled: bool("OPENPAW_RATE_LIMITS", true),
      windowSeconds: int("OPENPAW_RATE_LIMIT_WINDOW_SECONDS", 60, 1),
    },
    security: {
      passwordHashCost: int("OPENPAW_PASSWORD_HASH_COST", 15, 4),
      sessionTtlMs: int("OPENPAW_SESSION_TTL_HOURS", 24 * 30, 1) * 3_600_000,
      trustProxy: bool("OPENPAW_TRUST_PROXY", false),
      diagnostics: bool("OPENPAW_DIAGNOSTICS", false),
      diagnosticsSql: bool("OPENPAW_DIAGNOSTICS_SQL", false),
      metrics: bool("OPENPAW_METRICS", false),
    },
    limits: {
      maxBodyBytes: int("OPENPAW_MAX_BODY_BYTES", 1_048_576, 1024),
      maxUploadBytes: int("OPENPAW_MAX_UPLOAD_BYTES", 50 * 1_048_576, 1024),
      concurrentRunsPerKey: int("OPENPAW_CONCURRENT_RUNS_PER_KEY", 10, 1),
      concurrentRunsPerOrg: int("OPENPAW_CONCURRENT_RUNS_PER_ORG", 50, 1),
      toolOutputChars: int("OPENPAW_TOOL_OUTPUT_CHARS", 20_000, 100),
      shutdownGraceMs: int("OPENPAW_SHUTDOWN_GRACE_MS", 10_000, 0),
      ssePingMs: int("OPENPAW_SSE_PING_MS", 15_000, 100),
    },
  };
}
