/**
 * The one retry loop of model calls (the SDKs' own retries are off), plus the HTTP-status
 * classification both providers share.
 */
import {
  type ModelProvider,
  type ModelRequest,
  ProviderError,
  type ProviderErrorKind,
  type StreamPart,
  type TokenUsage,
  emptyUsage,
} from "./types";

/** Maps an HTTP status of a provider response to our error kind. */
export function errorKindForStatus(status: number): ProviderErrorKind {
  if (status === 429) return "rate_limited";
  if (status === 529 || status === 503) return "overloaded";
  if (status === 408 || status >= 500) return "server";
  if (status === 401 || status === 403) return "auth";
  if (status === 400 || status === 404 || status === 413 || status === 422) return "bad_request";
  return "other";
}

/**
 * Reads how long the server asked us to wait: `retry-after-ms`, then `retry-after` as seconds or
 * an HTTP date. Undefined when absent or unusable.
 */
export function retryAfterMsFromHeaders(headers: { get(name: string): string | null } | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}

/** Adds `b` into a copy of `a`. */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  };
}

export interface RetryOptions {
  /** Calls in total, the first included. Default 4. */
  maxAttempts?: number;
  /** Base of the exponential backoff. Default 500 ms. */
  baseDelayMs?: number;
  /** Upper bound of any wait, a server's retry-after included. Default 20 s. */
  maxDelayMs?: number;
  /** Waits `ms`; must reject when `signal` aborts. Default: a timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A timer that rejects as soon as `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error("aborted"));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error("aborted"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Exponential backoff with full jitter, or the server's retry-after; both capped at maxDelayMs. */
export function retryDelayMs(attempt: number, retryAfterMs: number | undefined, baseDelayMs: number, maxDelayMs: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, maxDelayMs);
  return Math.floor(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
}

/**
 * Streams one model call, retrying retryable failures that happen before anything reached the
 * caller (afterwards a retry would duplicate output, so the error passes through). Tokens billed
 * by failed attempts are added to the usage of the final finish or error part.
 */
export async function* streamWithRetry(
  provider: ModelProvider,
  request: ModelRequest,
  options: RetryOptions = {},
): AsyncIterable<StreamPart> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 20_000;
  const sleep = options.sleep ?? abortableSleep;
  let billed = emptyUsage();

  for (let attempt = 1; ; attempt++) {
    let yielded = false;
    let retry: ProviderError | undefined;
    for await (const part of provider.stream(request)) {
      if (part.type === "error" && !yielded && part.error.retryable && attempt < maxAttempts && !request.signal?.aborted) {
        retry = part.error;
        billed = addUsage(billed, part.usage);
        break;
      }
      if (part.type === "error") {
        // The message shown to the user says what really happened: how often, and whether output had begun.
        part.error.attempts = attempt;
        part.error.afterOutput = yielded;
      }
      yielded = true;
      yield part.type === "finish" || part.type === "error" ? { ...part, usage: addUsage(part.usage, billed) } : part;
    }
    if (!retry) return;
    try {
      await sleep(retryDelayMs(attempt, retry.retryAfterMs, baseDelayMs, maxDelayMs), request.signal);
    } catch (cause) {
      yield { type: "error", error: new ProviderError("other", "aborted", { cause }), usage: billed };
      return;
    }
    if (request.signal?.aborted) {
      yield { type: "error", error: new ProviderError("other", "aborted"), usage: billed };
      return;
    }
  }
}

/**
 * What a call's controller aborts with, made once: `abort()` without a reason builds a new
 * DOMException (same name), whose stack capture was ~80 µs of every run in a CPU profile.
 */
const CALL_ENDED = new DOMException("The model call ended.", "AbortError");

/**
 * Per-call plumbing both providers share: one AbortController that fires when the caller's
 * signal aborts or when the provider goes silent for `idleMs` (the SDK timeouts stop at the
 * response headers, so a stream that hangs mid-way would otherwise never end).
 */
export class CallGuard {
  readonly controller = new AbortController();
  private idle = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = () => this.controller.abort();

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly idleMs: number,
  ) {
    if (signal?.aborted) this.controller.abort();
    else signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Restarts the idle timer; call on every received event. */
  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.idle = true;
      this.controller.abort();
    }, this.idleMs);
    this.timer.unref?.();
  }

  get callerAborted(): boolean {
    return this.signal?.aborted === true;
  }

  /** The error that ends the call: the caller's abort and the idle timeout explain any failure after them. */
  failure(error: unknown, classify: (error: unknown) => ProviderError): ProviderError {
    if (this.callerAborted) return new ProviderError("other", "aborted", { cause: error });
    if (this.idle) return new ProviderError("network", `no data from the provider for ${this.idleMs} ms`, { cause: error });
    return classify(error);
  }

  /** Stops the timer and aborts whatever is still open (a no-op after a complete response). */
  close(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
    this.controller.abort(CALL_ENDED);
  }
}
