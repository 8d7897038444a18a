/**
 * The one Server-Sent Events writer of the gateway (chat streams, run event streams, the
 * OpenAI-compatible streams). It owns what every stream needs: `id:` lines, `: ping` comments
 * while idle, order (events are queued and written in order), backpressure (`drained()` waits
 * for a slow client), a stalled client dropped instead of buffered without end, and the client
 * leaving (its `signal` aborts). SSE is never compressed or buffered by proxies
 * (`Cache-Control: no-transform`, `X-Accel-Buffering: no`).
 *
 * @example
 * return sseResponse(c, { pingMs: 15_000 }, async (sse) => {
 *   for await (const e of events) {
 *     sse.send({ id: e.seq, event: e.event, data: e.data });
 *     await sse.drained();
 *   }
 * });
 */
import type { Context } from "hono";

/**
 * The reason every stream's signal aborts with when it ends, made once: `abort()` without a
 * reason builds a new DOMException, whose stack capture cost ~70 µs of every run (CPU profile).
 */
const STREAM_ENDED = new DOMException("The stream ended.", "AbortError");

export interface SseEvent {
  /** Sent as the `id:` line (a run event's seq); a client reconnects with it as `Last-Event-ID`. */
  id?: number | string;
  event?: string;
  /** JSON-encoded unless it is already a string. */
  data: unknown;
}

export interface SseStream {
  /** Queues an event; events are written in the order they are sent. No-op once closed. */
  send(event: SseEvent): void;
  /** Queues a comment line (`: text`), which carries no id. */
  comment(text: string): void;
  /** Resolves once the client has taken what is queued; rejects nothing, resolves at close too. */
  drained(): Promise<void>;
  /** Aborted when the client goes away or the stream is closed. */
  readonly signal: AbortSignal;
  readonly closed: boolean;
  /** Ends the stream after what is queued. */
  close(): void;
}

export interface SseOptions {
  /** Interval of `: ping` comments (each resets when something else was written). */
  pingMs: number;
  /** A client that takes nothing for this long while events wait is dropped. Default 30 s. */
  stallMs?: number;
  /** Bytes queued before `drained()` waits. Default 64 KiB. */
  highWaterMark?: number;
  status?: 200;
  headers?: Record<string, string>;
}

const encoder = new TextEncoder();

/** One SSE frame: `event:`, `data:` (one line per line of data), then `id:`. */
export function formatSse(event: SseEvent): string {
  const data = typeof event.data === "string" ? event.data : JSON.stringify(event.data);
  let frame = event.event ? `event: ${event.event}\n` : "";
  for (const line of data.split(/\r\n|\r|\n/)) frame += `data: ${line}\n`;
  if (event.id !== undefined) frame += `id: ${event.id}\n`;
  return `${frame}\n`;
}

/**
 * Builds an SSE response whose body is written by `body`. The stream ends when `body` settles
 * (after everything queued is taken) or when the client leaves (then `signal` aborts).
 */
export function sseResponse(c: Context, options: SseOptions, body: (stream: SseStream) => Promise<void>): Response {
  const abort = new AbortController();
  const stallMs = options.stallMs ?? 30_000;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let waiting: Array<() => void> = [];
  let lastWrite = Date.now();
  /** When the client last took data (the stream asked for more). */
  let lastPull = Date.now();

  const wake = () => {
    const resolvers = waiting;
    waiting = [];
    for (const resolve of resolvers) resolve();
  };
  /**
   * What was written since the last flush. Every chunk handed to the response becomes a socket
   * write (a system call and a chunked-encoding frame), and a run sends its events in bursts (a
   * fast model's whole answer, a tool's start and end): everything written in one turn of the
   * event loop goes out as one chunk, at the end of that turn (setImmediate).
   */
  let pending = "";
  let flushing: NodeJS.Immediate | null = null;
  const flush = () => {
    flushing = null;
    if (closed || !pending) return;
    const text = pending;
    pending = "";
    try {
      controller.enqueue(encoder.encode(text));
    } catch {
      end("gone");
    }
  };
  const end = (reason: "done" | "gone") => {
    if (closed) return;
    if (reason === "done") flush();
    closed = true;
    pending = "";
    if (flushing) clearImmediate(flushing);
    clearInterval(ping);
    if (reason === "done") {
      try {
        controller.close();
      } catch {}
    }
    abort.abort(STREAM_ENDED);
    wake();
  };
  const write = (text: string) => {
    if (closed) return;
    lastWrite = Date.now();
    pending += text;
    flushing ??= setImmediate(flush);
  };
  /** Room left before the client must take something (what waits for the next flush counts). */
  const room = () => (controller.desiredSize ?? 0) - pending.length;

  const readable = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        lastPull = Date.now();
        wake();
      },
      cancel() {
        end("gone");
      },
    },
    { highWaterMark: options.highWaterMark ?? 65_536, size: (chunk) => chunk.byteLength },
  );

  const ping = setInterval(
    () => {
      if (closed) return;
      if (room() <= 0 && Date.now() - lastPull > stallMs) {
        // The client takes nothing: drop it rather than buffer for it without end.
        try {
          controller.error(new Error("client stalled"));
        } catch {}
        end("gone");
        return;
      }
      if (Date.now() - lastWrite >= options.pingMs) write(": ping\n\n");
    },
    Math.min(options.pingMs, 1_000),
  );
  ping.unref();

  const stream: SseStream = {
    send: (event) => write(formatSse(event)),
    comment: (text) => write(`: ${text}\n\n`),
    drained: () => (closed || room() > 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve))),
    signal: abort.signal,
    get closed() {
      return closed;
    },
    close: () => end("done"),
  };

  queueMicrotask(() => {
    // `body` reports its own failures on the stream (an `error` event); whatever it throws ends it.
    body(stream)
      .finally(() => end("done"))
      .catch(() => {});
  });

  return c.body(readable, options.status ?? 200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    ...(options.headers ?? {}),
  });
}
