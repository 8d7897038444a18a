import { Redis } from "ioredis";
import type { Config } from "./config";
import { type Db, openDatabase } from "./db";
import { migrateToLatest } from "./db/migrations";
import { ApiKeyAuthenticator } from "./features/api-keys/authenticator";
import { PlanTable } from "./features/billing/plans";
import { type RateLimiter, createRateLimiter } from "./http/rate-limit";
import { type Logger, createLogger } from "./lib/logger";

/**
 * Everything the app needs, built once from the configuration and passed in (no module-level
 * singletons). Tests build their own with another config.
 */
export interface Services {
  config: Config;
  logger: Logger;
  db: Db;
  redis: Redis | null;
  apiKeys: ApiKeyAuthenticator;
  plans: PlanTable;
  limits: {
    /** Login and signup attempts per client IP. */
    authByIp: RateLimiter;
    /** Login attempts per email address. */
    authByEmail: RateLimiter;
  };
  /** Aborted when a graceful shutdown's grace period is over: running chats cancel and record usage. */
  shutdown: AbortController;
  /** Runs at shutdown, after the server stopped accepting and in-flight work ended. */
  close(): Promise<void>;
}

/** Builds the services and brings the database schema up to date. */
export async function createServices(config: Config, options: { logger?: Logger } = {}): Promise<Services> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const db = openDatabase(config.databaseUrl);
  await migrateToLatest(db.kysely);
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false })
    : null;
  redis?.on("error", (error) => logger.warn("redis error", { error: error.message }));
  const apiKeys = new ApiKeyAuthenticator(db.kysely, logger);
  const plans = PlanTable.fromFile(config.plansFile, config.defaultPlan);
  let closing: Promise<void> | null = null;
  return {
    config,
    logger,
    db,
    redis,
    apiKeys,
    plans,
    shutdown: new AbortController(),
    limits: {
      authByIp: createRateLimiter({ redis, name: "auth-ip", points: 30, durationSeconds: 60 }),
      authByEmail: createRateLimiter({ redis, name: "auth-email", points: 10, durationSeconds: 60 }),
    },
    close() {
      closing ??= (async () => {
        await apiKeys.flush().catch((error) => logger.warn("api key flush at shutdown failed", { error }));
        redis?.disconnect();
        await db.close();
      })();
      return closing;
    },
  };
}
