import { EventEmitter } from "node:events";
import type { Redis } from "ioredis";
import pg from "pg";
import type { Logger } from "../../lib/logger";

/**
 * What gateways tell each other about runs. `events`: the run's log grew to `seq` (followers
 * read it); `cancel`: whoever executes the run must stop it; `wake`: a run became ready to
 * continue (queued, or its approvals decided); `ended`: the run ended (`seq` = its last event).
 */
export type RunSignal =
  | { kind: "events"; runId: string; seq: number }
  | { kind: "ended"; runId: string; seq: number }
  | { kind: "cancel"; runId: string }
  | { kind: "wake"; runId: string };

/**
 * Live notifications between gateways, per run. Signals only say that something happened; the
 * database stays the source of truth, so a lost signal costs latency (followers and executors
 * also poll), never correctness. `publish` delivers to this process's subscribers at once
 * (synchronously) and to other gateways through the broker.
 */
export interface RunBus {
  publish(signal: RunSignal): void;
  /** Calls `handler` for signals of one run (`"*"`: every run); returns the unsubscribe function. */
  subscribe(runId: string, handler: (signal: RunSignal) => void): () => void;
  close(): Promise<void>;
}

/** Delivers signals to this process's subscribers. */
class LocalFanout {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per follower and per running run: thousands are normal.
    this.emitter.setMaxListeners(0);
  }

  deliver(signal: RunSignal): void {
    this.emitter.emit(signal.runId, signal);
    this.emitter.emit("*", signal);
  }

  subscribe(runId: string, handler: (signal: RunSignal) => void): () => void {
    this.emitter.on(runId, handler);
    return () => this.emitter.off(runId, handler);
  }
}

/** One gateway process (SQLite, or no shared broker): signals never leave the process. */
export function createMemoryRunBus(): RunBus {
  const local = new LocalFanout();
  return {
    publish: (signal) => local.deliver(signal),
    subscribe: (runId, handler) => local.subscribe(runId, handler),
    close: async () => {},
  };
}

const CHANNEL = "openpaw:runs";

/** On the wire a signal names the gateway that sent it, which has already delivered it locally. */
const encode = (signal: RunSignal, origin: string): string => JSON.stringify({ ...signal, origin });

function decode(message: string, self: string): RunSignal | null {
  try {
    const { origin, ...value } = JSON.parse(message) as RunSignal & { origin?: string };
    if (origin === self) return null;
    return typeof value?.runId === "string" && typeof value.kind === "string" ? (value as RunSignal) : null;
  } catch {
    return null;
  }
}

/**
 * Redis pub/sub (REDIS_URL): one subscriber connection per gateway on one channel, fanned out
 * locally by run id. While Redis is unreachable signals are lost and followers fall back to
 * polling the log.
 */
export function createRedisRunBus(redis: Redis, logger: Logger, self: string): RunBus {
  const local = new LocalFanout();
  const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  subscriber.on("error", (error) => logger.warn("run bus subscriber error", { error: error.message }));
  subscriber.subscribe(CHANNEL).catch((error: Error) => logger.warn("run bus subscribe failed", { error: error.message }));
  subscriber.on("message", (_channel: string, message: string) => {
    const signal = decode(message, self);
    if (signal) local.deliver(signal);
  });
  return {
    publish(signal) {
      local.deliver(signal);
      // Redis down: other replicas fall back to polling.
      redis.publish(CHANNEL, encode(signal, self)).catch(() => {});
    },
    subscribe: (runId, handler) => local.subscribe(runId, handler),
    async close() {
      subscriber.disconnect();
    },
  };
}

/**
 * PostgreSQL LISTEN/NOTIFY (PostgreSQL without Redis): one dedicated connection per gateway
 * listens; NOTIFY goes through a second one. Reconnects with backoff when the server goes away.
 */
export function createPostgresRunBus(databaseUrl: string, logger: Logger, self: string): RunBus {
  const local = new LocalFanout();
  const channel = "openpaw_runs";
  let listener: pg.Client | null = null;
  let notifier: pg.Client | null = null;
  let closed = false;
  let retryMs = 500;

  const connect = async (): Promise<void> => {
    if (closed) return;
    const client = new pg.Client({ connectionString: databaseUrl });
    client.on("error", () => {});
    client.on("end", () => {
      if (listener === client) listener = null;
      if (!closed) setTimeout(() => connect().catch(() => {}), retryMs).unref();
    });
    try {
      await client.connect();
      client.on("notification", (message) => {
        const signal = message.payload ? decode(message.payload, self) : null;
        if (signal) local.deliver(signal);
      });
      await client.query(`listen ${channel}`);
      listener = client;
      retryMs = 500;
    } catch (error) {
      logger.warn("run bus listener could not connect; retrying", { error: (error as Error).message });
      retryMs = Math.min(retryMs * 2, 10_000);
      await client.end().catch(() => {});
    }
  };
  connect().catch(() => {});

  const notify = async (payload: string): Promise<void> => {
    if (!notifier) {
      const client = new pg.Client({ connectionString: databaseUrl });
      client.on("error", () => {
        if (notifier === client) notifier = null;
      });
      client.on("end", () => {
        if (notifier === client) notifier = null;
      });
      await client.connect();
      notifier = client;
    }
    await notifier.query("select pg_notify($1, $2)", [channel, payload]);
  };

  return {
    publish(signal) {
      local.deliver(signal);
      notify(encode(signal, self)).catch(() => {});
    },
    subscribe: (runId, handler) => local.subscribe(runId, handler),
    async close() {
      closed = true;
      await Promise.all([listener?.end().catch(() => {}), notifier?.end().catch(() => {})]);
    },
  };
}
