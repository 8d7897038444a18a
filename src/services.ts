import { setMaxListeners } from "node:events";
import { Redis } from "ioredis";
import type { Config } from "./config";
import { type Db, openDatabase } from "./db";
import { migrateToLatest } from "./db/migrations";
import { ApiKeyAuthenticator } from "./features/api-keys/authenticator";
import { PlanTable } from "./features/billing/plans";
import { DbQuotaService, type QuotaService } from "./features/billing/quota";
import { BillingService } from "./features/billing/service";
import { DomainService } from "./features/domains/service";
import { OperatorService } from "./features/operator/service";
import { IdempotencyStore } from "./http/idempotency";
import { type RateLimiter, type WindowCounter, createRateLimiter, createWindowCounter } from "./http/rate-limit";
import { type ModelCatalogue, createModelCatalogue } from "./runtime/models/catalogue";
import { InvalidationBus } from "./lib/invalidation";
import { type Logger, createLogger } from "./lib/logger";
import { type Metrics, createMetrics } from "./lib/metrics";
import { StatementTimings } from "./lib/statement-timings";
import { Telemetry } from "./lib/telemetry";
import { type RunSlots, createMemoryRunSlots, createRedisRunSlots } from "./features/runs/slots";
import { type RunBus, createMemoryRunBus, createPostgresRunBus, createRedisRunBus } from "./features/runs/bus";
import { RunsService } from "./features/runs/service";
import { pendingCallsOf } from "./features/approvals/repository";
import { ApprovalsService } from "./features/approvals/service";
import { createAnthropicProvider } from "./runtime/models/anthropic";
import { ModelDiscovery, localServerOf } from "./runtime/models/discovery";
import { createOpenAIProvider } from "./runtime/models/openai";
import type { ModelProvider } from "./runtime/models/types";
import type { ToolRegistry } from "./runtime/tools/registry";
import { createToolRegistry } from "./tools";
import { createWorkspaceQuota } from "./features/files/workspace-quota";
import type { ChannelService } from "./features/channels/service";
import type { McpService } from "./features/mcp/service";
import type { WorkspaceFiles } from "./runtime/sandbox/types";
import { createGuardedFetcher } from "./runtime/tools/net/guarded-fetch";
import { MAX_RESPONSE_BYTES, WebhookService } from "./features/webhooks/service";
import { Scheduler } from "./features/schedules/scheduler";

/**
 * Everything the app needs, built once from the configuration and passed in (no module-level
 * singletons). Tests build their own with another config.
 */
export interface Services {
  config: Config;
  logger: Logger;
  db: Db;
  redis: Redis | null;
  /** Tells every replica's caches (keys, domains) about a change; Redis pub/sub across replicas. */
  invalidation: InvalidationBus;
  apiKeys: ApiKeyAuthenticator;
  plans: PlanTable;
  /** Token quota per org and period: the runtime reserves before each model call and settles after. */
  quota: QuotaService;
  /** Stripe (null client without STRIPE_SECRET_KEY), subscription sync and the overage outbox (`flushOverage()`). */
  billing: BillingService;
  /** The instance operator's view across orgs: plans, usage, users (OPENPAW_OPERATOR_EMAILS, `openpaw orgs|users`). */
  operator: OperatorService;
  /** Custom domains: DNS verification, the host directory for routing, the verification sweep. */
  domains: DomainService;
  /** Models agents may use, with prices (OPENPAW_MODELS_FILE overrides). */
  models: ModelCatalogue;
  /** Model providers with credentials configured, by catalogue provider name. */
  providers: Partial<Record<"anthropic" | "openai", ModelProvider>>;
  tools: ToolRegistry;
  /** Org workspaces (Pro tools): shared by the sandbox tools and the files API, within the plan's quota. */
  files: WorkspaceFiles;
  /** The orgs' MCP servers: decrypted targets, cached tool lists, the tools a run offers. */
  mcp: McpService;
  /** The orgs' message channels and the sender the message tool and the test endpoint share. */
  channels: ChannelService;
  /** Concurrent-run slots per key/user and per org. */
  runSlots: RunSlots;
  /** Runs: start (foreground/background), follow, cancel, continue after a crash, dispatch the queue. */
  runs: RunsService;
  /** Run webhooks: the outbox written as runs end, and the delivery worker. */
  webhooks: WebhookService;
  /** The schedule sweep: each due tick, claimed once across replicas, starts a background run. */
  scheduler: Scheduler;
  /** Tool approvals: decisions on waiting runs' calls, and the timeout sweep. */
  approvals: ApprovalsService;
  /** Metrics (OPENPAW_METRICS) and traces (OTEL_EXPORTER_OTLP_ENDPOINT) of requests, runs, model and tool calls. */
  telemetry: Telemetry;
  /** POST responses kept per Idempotency-Key (README "Idempotency"), pruned as they expire. */
  idempotency: IdempotencyStore;
  limits: {
    /** Login and signup attempts per client IP. */
    authByIp: RateLimiter;
    /** Login attempts per email address. */
    authByEmail: RateLimiter;
    /** API requests per key and per org in OPENPAW_RATE_LIMIT_WINDOW_SECONDS windows (null when OPENPAW_RATE_LIMITS=false). */
    requests: WindowCounter | null;
  };
  /** Aborted when a graceful shutdown's grace period is over: running chats cancel and record usage. */
  shutdown: AbortController;
  /** Runs at shutdown, after the server stopped accepting and in-flight work ended. */
  close(): Promise<void>;
}

/**
 * Says at start which models can run, and when none can, exactly what to set: a gateway without
 * a provider answers every chat with 503, which a newcomer should not have to discover by trying.
 */
function logModelSetup(logger: Logger, config: Config, models: ModelCatalogue): void {
  const available = models.list().filter((m) => m.available);
  if (available.length > 0) {
    const local = available.filter((m) => m.local).map((m) => m.id);
    logger.info("models", { available: available.length, ...(local.length ? { local } : {}), default: models.defaultModel().id });
    return;
  }
  logger.warn(
    config.openai.baseUrl
      ? `No model can run yet: OPENAI_BASE_URL (${config.openai.baseUrl}) lists no models. Pull one there (Ollama: ollama pull llama3.2); it appears within a minute.`
      : "No model provider is configured, so chats answer 503. Set ANTHROPIC_API_KEY, or run a local model without a key: " +
          "OPENAI_BASE_URL=http://localhost:11434/v1 (Ollama; vLLM and llama.cpp serve the same API). See README, \"Try it without an API key\".",
  );
}

/** Builds the services and brings the database schema up to date. */
export async function createServices(config: Config, options: { logger?: Logger } = {}): Promise<Services> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const db = openDatabase(config.databaseUrl, { statementTimings: config.security.diagnosticsSql ? new StatementTimings() : undefined });
  await migrateToLatest(db.kysely, db.dialect);
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false })
    : null;
  redis?.on("error", (error) => logger.warn("redis error", { error: error.message }));
  const invalidation = new InvalidationBus(redis, logger);
  const apiKeys = new ApiKeyAuthenticator(db.kysely, logger, invalidation);
  const plans = PlanTable.fromFile(config.plansFile, config.defaultPlan);
  const quota = new DbQuotaService(db, plans);
  const billing = new BillingService(config, db, plans, logger);
  billing.start();
  const domains = new DomainService(db, config, logger, invalidation);
  domains.start();
  invalidation.start();
  const models = createModelCatalogue({
    modelsFile: config.modelsFile,
    anthropicConfigured: config.anthropic.apiKey !== null,
    openaiConfigured: config.openai.apiKey !== null || config.openai.baseUrl !== null,
    localServer: localServerOf(config.openai.baseUrl),
  });
  const providers: Services["providers"] = {};
  if (config.anthropic.apiKey) {
    providers.anthropic = createAnthropicProvider({
      apiKey: config.anthropic.apiKey,
      baseURL: config.anthropic.baseUrl ?? undefined,
      sdkTracing: config.tracing !== null,
    });
  }
  if (config.openai.apiKey || config.openai.baseUrl) {
    providers.openai = createOpenAIProvider({
      apiKey: config.openai.apiKey ?? undefined,
      baseURL: config.openai.baseUrl ?? undefined,
      paramsFor: (providerModel) => models.list().find((m) => m.provider === "openai" && m.providerModel === providerModel)?.requestParams,
    });
  }
  const discovery = new ModelDiscovery({ catalogue: models, providers, logger });
  await discovery.start();
  logModelSetup(logger, config, models);
  const tools = await createToolRegistry(config, db.kysely, { quotaBytes: createWorkspaceQuota(db.kysely, plans) });

  // Every running chat listens for the shutdown; there may be thousands.
  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal);
  let closing: Promise<void> | null = null;
  const runSlots = redis ? createRedisRunSlots(redis, { logger }) : createMemoryRunSlots();
  const metrics = config.security.metrics ? createMetrics({ onError: (error) => logger.warn("metrics source failed", { error }) }) : null;
  if (metrics) registerGauges(metrics, db);
  // Loaded only when configured: without an endpoint the OpenTelemetry SDK is not even imported.
  const tracing = config.tracing ? (await import("./lib/tracing")).createTracing(config.tracing) : null;
  const telemetry = new Telemetry(metrics, tracing);
  const partial = { config, logger, db, plans, quota, models, providers, tools: tools.registry, mcp: tools.mcp, runSlots, telemetry };
  const runs = new RunsService(
    { ...partial, bus: createRunBus(config, db, redis, logger), shutdown: shutdown.signal },
    { ...config.runs, followPage: 500 },
  );
  // A delivery is one signed POST: redirects are answers (not followed), the answer's body is not needed.
  const webhookFetcher = createGuardedFetcher({ allowlist: config.fetchAllowlist, maxRedirects: 0, timeoutMs: 15_000, maxBytes: MAX_RESPONSE_BYTES });
  const webhooks = new WebhookService({
    db,
    logger,
    secretKey: config.secretKey,
    allowlist: config.fetchAllowlist,
    fetcher: webhookFetcher,
    sweepMs: config.unattended.webhookSweepMs,
  });
  // Registered before the runs start: the first sweep may already end runs left by a previous process.
  runs.executor.onRunEnded((trx, run) => webhooks.enqueueRunStatus(trx, run));
  // `run.requires_action`, written in the transaction that makes the run wait, with its pending calls.
  runs.executor.onRunWaiting(async (trx, run) => webhooks.enqueueRunStatus(trx, run, (await pendingCallsOf(trx, run.org_id, [run.id])).get(run.id)));
  await runs.start();
  webhooks.start();
  const scheduler = new Scheduler({ db: db.kysely, logger, runs, sweepMs: config.unattended.scheduleSweepMs });
  scheduler.start();
  const approvals = new ApprovalsService({ db, config, logger, runs });
  approvals.start();
  // A claim with no response for 10 minutes is a gateway that died mid-request (the longest
  // foreground chat is bounded well below that by the runtime's limits).
  const idempotency = new IdempotencyStore(db.kysely, { ttlMs: config.idempotencyTtlMs, abandonedMs: 600_000 });
  idempotency.start(600_000, (error) => logger.warn("idempotency prune failed", { error }));
  return {
    config,
    logger,
    db,
    redis,
    invalidation,
    apiKeys,
    plans,
    quota,
    billing,
    operator: new OperatorService(db.kysely, plans, config.security.passwordHashCost),
    domains,
    models,
    providers,
    tools: tools.registry,
    files: tools.files,
    mcp: tools.mcp,
    channels: tools.channels,
    runSlots,
    runs,
    webhooks,
    scheduler,
    approvals,
    shutdown,
    telemetry,
    idempotency,
    limits: {
      authByIp: createRateLimiter({ redis, name: "auth-ip", points: 30, durationSeconds: 60 }),
      authByEmail: createRateLimiter({ redis, name: "auth-email", points: 10, durationSeconds: 60 }),
      requests: config.rateLimits.enabled
        ? createWindowCounter({ redis, name: "requests", durationSeconds: config.rateLimits.windowSeconds })
        : null,
    },
    close() {
      closing ??= (async () => {
        await scheduler.close();
        approvals.stop();
        await runs.close();
        await webhooks.close();
        await webhookFetcher.close();
        idempotency.stop();
        discovery.stop();
        await domains.stop();
        invalidation.stop();
        await billing.close();
        await tools.close();
        await apiKeys.flush().catch((error) => logger.warn("api key flush at shutdown failed", { error }));
        redis?.disconnect();
        await tracing?.shutdown().catch((error) => logger.warn("sending the last spans failed", { error }));
        await db.close();
      })();
      return closing;
    },
  };
}

/**
 * Gauges read from the database at scrape time (the same figures on every replica: they describe
 * the deployment): runs not yet ended by status (queued = the background queue's depth), and this
 * gateway's connection pool. Features with a backlog of their own add one with `metrics.gauge`.
 */
function registerGauges(metrics: Metrics, db: Db): void {
  metrics.gauge(
    "openpaw_runs_open",
    "Runs not yet ended, by status (queued: background runs waiting for a slot).",
    async () => {
      const rows = await db.kysely
        .selectFrom("runs")
        .select((eb) => ["status", eb.fn.countAll<number>().as("n")])
        .where("status", "in", ["queued", "running", "requires_action"])
        .groupBy("status")
        .execute();
      const out: Record<string, number> = { queued: 0, running: 0, requires_action: 0 };
      for (const row of rows) out[row.status] = Number(row.n);
      return out;
    },
    "status",
  );
  metrics.gauge("openpaw_background_queue_depth", "Background runs waiting for a concurrency slot.", async () => {
    const row = await db.kysely.selectFrom("runs").select((eb) => eb.fn.countAll<number>().as("n")).where("status", "=", "queued").executeTakeFirst();
    return Number(row?.n ?? 0);
  });
  metrics.gauge("openpaw_webhook_deliveries_pending", "Webhook deliveries not yet delivered or given up (the outbox backlog).", async () => {
    const row = await db.kysely
      .selectFrom("webhook_deliveries")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("status", "=", "pending")
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  });
  if (db.poolStats()) {
    metrics.gauge(
      "openpaw_db_pool_connections",
      "Database pool connections of this gateway: size (max), total, idle, in use, and requests waiting for one.",
      async () => {
        const p = db.poolStats() as NonNullable<ReturnType<Db["poolStats"]>>;
        return { size: p.size, total: p.total, idle: p.idle, in_use: p.total - p.idle, waiting: p.waiting };
      },
      "state",
    );
  }
}

/** Live run signals between gateways: Redis when configured, else PostgreSQL LISTEN/NOTIFY, else in process. */
function createRunBus(config: Config, db: Db, redis: Redis | null, logger: Logger): RunBus {
  const self = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  if (redis) return createRedisRunBus(redis, logger, self);
  if (db.dialect === "postgres") return createPostgresRunBus(config.databaseUrl, logger, self);
  return createMemoryRunBus();
}
