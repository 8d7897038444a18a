import type { Redis } from "ioredis";
import { randomBase62 } from "./ids";
import type { Logger } from "./logger";

/** What every listener of a channel hears after a reconnect: drop everything, changes may have been missed. */
export const EVERYTHING = "*";

type Listener = (subject: string) => void;

/**
 * Tells the caches of every replica that something changed: the local listeners at once (before
 * `publish` returns), the other replicas over Redis pub/sub when Redis is configured. Without
 * Redis, other replicas rely on their caches' own short lifetimes. A message is a subject (an id,
 * or EVERYTHING); listeners drop what they hold of it. After the subscriber connection comes back
 * every listener hears EVERYTHING, since messages sent while it was down are lost.
 */
export class InvalidationBus {
  private readonly listeners = new Map<string, Listener[]>();
  private readonly instanceId = randomBase62(12);
  private subscriber: Redis | null = null;

  constructor(
    private readonly redis: Redis | null,
    private readonly logger: Logger,
  ) {}

  /** Calls `listener` with the subject of every invalidation on `channel`, from this replica or another. */
  listen(channel: string, listener: Listener): void {
    this.listeners.set(channel, [...(this.listeners.get(channel) ?? []), listener]);
    this.subscriber?.subscribe(channel).catch((error: Error) => this.logger.warn("redis subscribe failed", { channel, error: error.message }));
  }

  /** Invalidates `subject` on `channel` here (synchronously) and on the other replicas. */
  publish(channel: string, subject: string): void {
    this.deliver(channel, subject);
    this.redis?.publish(channel, `${this.instanceId} ${subject}`).catch((error: Error) => {
      this.logger.warn("invalidation not published; other replicas catch up when their caches expire", { channel, error: error.message });
    });
  }

  /** Subscribes to the channels listened to so far and to come (when Redis is configured). */
  start(): void {
    if (!this.redis || this.subscriber) return;
    // A connection in subscriber mode can do nothing else, hence its own; it queues SUBSCRIBE
    // until connected and re-subscribes after reconnecting by itself.
    const subscriber = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber = subscriber;
    subscriber.on("error", (error: Error) => this.logger.warn("redis subscriber error", { error: error.message }));
    subscriber.on("message", (channel: string, message: string) => {
      // "<sender> <subject>"; a bare sender (older replicas) means everything.
      const space = message.indexOf(" ");
      const sender = space < 0 ? message : message.slice(0, space);
      if (sender !== this.instanceId) this.deliver(channel, space < 0 ? EVERYTHING : message.slice(space + 1));
    });
    subscriber.on("ready", () => {
      for (const channel of this.listeners.keys()) this.deliver(channel, EVERYTHING);
    });
    const channels = [...this.listeners.keys()];
    if (channels.length) {
      subscriber.subscribe(...channels).catch((error: Error) => this.logger.warn("redis subscribe failed", { error: error.message }));
    }
  }

  /** Closes the subscriber connection. */
  stop(): void {
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  private deliver(channel: string, subject: string): void {
    for (const listener of this.listeners.get(channel) ?? []) {
      try {
        listener(subject);
      } catch (error) {
        this.logger.warn("cache invalidation listener failed", { channel, error });
      }
    }
  }
}
