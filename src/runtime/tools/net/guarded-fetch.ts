/**
 * Outbound HTTP for everything an agent can point at a URL (read_url, webhooks, MCP servers).
 *
 * The threat is SSRF: a model (or a page it read) choosing a URL that reaches the gateway's own
 * network — metadata endpoints, databases, admin ports. Checking the URL text is not enough,
 * because a name can resolve to a private address, or resolve to a public one at check time and a
 * private one at connect time (DNS rebinding). So the check sits in undici's connector, on the
 * addresses the socket will actually use, and every redirect hop goes back through it.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import type { LookupFunction } from "node:net";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";
import { classifyAddress, parseHostAddress } from "./address-policy";

/** One resolved address, as `dns.lookup(..., { all: true })` returns it. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to all its addresses; rejects (e.g. ENOTFOUND) when it has none. */
export type ResolveHost = (hostname: string) => Promise<ResolvedAddress[]>;

export interface GuardedFetcherOptions {
  /** host[:port] entries exempt from the address block (OPENPAW_FETCH_ALLOWLIST). No port = any port. */
  allowlist?: string[];
  /** Total deadline of one fetch, headers and body, in ms (default 10000). 0 or Infinity: none. */
  timeoutMs?: number;
  /** Largest body read, in bytes (default 5 MB). */
  maxBytes?: number;
  /** Redirects followed before giving up (default 5). */
  maxRedirects?: number;
  /** Name resolution (default: the system resolver through `dns.lookup`). */
  lookup?: ResolveHost;
  /** Sent when the caller sets no User-Agent. */
  userAgent?: string;
}

export interface GuardedRequestInit {
  method?: string;
  headers?: HeadersInit;
  /** Request bodies are small (webhook payloads, JSON-RPC): they are buffered so redirects can replay them. */
  body?: string | Uint8Array | null;
  signal?: AbortSignal;
  /** What to do with a body over the byte cap: "error" (default) or "truncate" (keep the first maxBytes). */
  onOversize?: "error" | "truncate";
}

/** A fully read response. */
export interface GuardedResponse {
  /** The URL that answered, after redirects. */
  url: string;
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** True when the body was cut at the byte cap. */
  truncated: boolean;
  /** Every URL visited before `url`, in order. */
  redirects: string[];
}

export interface GuardedFetcher {
  /** Fetches a URL under all the guards and reads the whole body (capped) before returning. */
  request(url: string | URL, init?: GuardedRequestInit): Promise<GuardedResponse>;
  /**
   * A `fetch`-compatible function with the same guards, for libraries that want one (MCP SDK).
   * The body streams; the byte cap and the deadline keep applying while it is read.
   */
  fetch: typeof fetch;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

/** The request was refused by policy (address, scheme, credentials, redirect limit). Not retryable. */
export class FetchRefusedError extends Error {
  override name = "FetchRefusedError";
}

/** A limit was hit: "timeout" (deadline passed) or "size" (body over the cap). */
export class FetchLimitError extends Error {
  override name = "FetchLimitError";
  constructor(
    message: string,
    readonly limit: "timeout" | "size",
  ) {
    super(message);
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const DEFAULT_MAX_BYTES = 5 * 1024 * 1024;

interface AllowEntry {
  host: string;
  port: string | null;
}

/** Canonical form of a host for comparisons: IP literals canonicalised, names lower-cased without a trailing dot. */
export function normalizeHost(host: string): string {
  const literal = parseHostAddress(host);
  if (literal) return literal;
  return host
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
}

/** Parses "host", "host:port", "[v6]" and "[v6]:port". */
function parseAllowEntry(entry: string): AllowEntry | null {
  const text = entry.trim();
  if (!text) return null;
  const bracketed = text.match(/^\[([^\]]+)\](?::(\d+))?$/);
  if (bracketed) return { host: normalizeHost(bracketed[1]), port: bracketed[2] ?? null };
  const colons = text.split(":").length - 1;
  if (colons === 1) {
    const [host, port] = text.split(":");
    return /^\d+$/.test(port) ? { host: normalizeHost(host), port } : null;
  }
  return { host: normalizeHost(text), port: null };
}

/** A matcher for OPENPAW_FETCH_ALLOWLIST entries ("host", "host:port", "[v6]", "[v6]:port"). */
export function createAllowlist(entries: readonly string[]): (hostname: string, port: string) => boolean {
  const parsed = entries.map(parseAllowEntry).filter((e): e is AllowEntry => e !== null);
  return (hostname, port) => {
    const host = normalizeHost(hostname);
    return parsed.some((entry) => entry.host === host && (entry.port === null || entry.port === port));
  };
}

/** The port a URL connects to. */
export function defaultPort(protocol: string): string {
  return protocol === "https:" ? "443" : "80";
}

function describeRefusal(address: string, kind: string): string {
  const article = /^[aeiou]/i.test(kind) ? "an" : "a";
  return `Refused: ${address} is ${article} ${kind} address, not a public one`;
}

/** The deepest cause of undici's "fetch failed" wrapper that we recognise as ours. */
function unwrap(error: unknown): unknown {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (current instanceof FetchRefusedError || current instanceof FetchLimitError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return error;
}

function describeNetworkError(error: unknown, url: URL): Error {
  const found = unwrap(error);
  if (found instanceof FetchRefusedError || found instanceof FetchLimitError) return found;
  const cause = (error as { cause?: NodeJS.ErrnoException }).cause;
  const code = cause?.code ?? (error as NodeJS.ErrnoException).code;
  if (code === "ENOTFOUND" || code === "ENODATA") return new Error(`Could not resolve host ${url.hostname}`);
  if (code === "ECONNREFUSED") return new Error(`Connection refused by ${url.host}`);
  if (code === "UND_ERR_CONNECT_TIMEOUT") return new Error(`Timed out connecting to ${url.host}`);
  const detail = cause?.message ?? (error as Error).message ?? String(error);
  return new Error(`Could not fetch ${url.origin}: ${detail}`);
}

/**
 * Builds a fetcher that reaches only public unicast addresses (plus the allowlist), over http(s),
 * with a total deadline, a byte cap and manually followed, individually checked redirects.
 */
export function createGuardedFetcher(options: GuardedFetcherOptions = {}): GuardedFetcher {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRedirects = options.maxRedirects ?? 5;
  const userAgent = options.userAgent ?? "OpenPaw/0.1";
  const isAllowlisted = createAllowlist(options.allowlist ?? []);
  const resolveHost: ResolveHost = options.lookup ?? ((hostname) => dnsLookup(hostname, { all: true, verbatim: true }));

  /** node:net's lookup contract over our promise-based resolver; `check` refuses forbidden answers. */
  const netLookup =
    (check: boolean): LookupFunction =>
    (hostname, lookupOptions, callback) => {
      resolveHost(hostname).then(
        (resolved) => {
          let addresses = resolved;
          if (check) {
            // Refuse the name outright if any answer is forbidden: a name mixing public and
            // private addresses is a rebinding attempt, not a site we need.
            for (const entry of addresses) {
              const kind = classifyAddress(entry.address);
              if (kind) {
                callback(new FetchRefusedError(`${describeRefusal(entry.address, kind)} (${hostname} resolves to it)`), "");
                return;
              }
            }
          }
          if (lookupOptions.family === 4 || lookupOptions.family === 6) {
            addresses = addresses.filter((a) => a.family === lookupOptions.family);
          }
          if (addresses.length === 0) {
            callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), "");
            return;
          }
          if (lookupOptions.all) callback(null, addresses);
          else callback(null, addresses[0].address, addresses[0].family);
        },
        (error: NodeJS.ErrnoException) => callback(error, ""),
      );
    };

  const guardedConnect = buildConnector({ lookup: netLookup(true) });
  const allowedConnect = buildConnector({ lookup: netLookup(false) });
  const agent = new Agent({
    connect(connectOptions, callback) {
      const port = connectOptions.port || defaultPort(connectOptions.protocol);
      if (isAllowlisted(connectOptions.hostname, port)) return allowedConnect(connectOptions, callback);
      // net.connect skips the lookup for IP literals, so they are checked here as well as in checkUrl.
      const literal = parseHostAddress(connectOptions.hostname);
      if (literal) {
        const kind = classifyAddress(literal);
        if (kind) {
          callback(new FetchRefusedError(describeRefusal(literal, kind)), null);
          return;
        }
      }
      return guardedConnect(connectOptions, callback);
    },
  });

  /** Everything decidable from the URL alone, before any socket exists. */
  const checkUrl = (raw: string | URL): URL => {
    let url: URL;
    try {
      url = new URL(String(raw));
    } catch {
      throw new FetchRefusedError(`Refused: not a valid absolute URL: ${String(raw).slice(0, 200)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new FetchRefusedError(`Refused: only http and https URLs are fetched, not ${url.protocol}`);
    }
    if (url.username || url.password) {
      throw new FetchRefusedError("Refused: URLs with credentials (user:password@host) are not fetched");
    }
    const port = url.port || defaultPort(url.protocol);
    if (isAllowlisted(url.hostname, port)) return url;
    const literal = parseHostAddress(url.hostname);
    if (literal) {
      const kind = classifyAddress(literal);
      if (kind) throw new FetchRefusedError(describeRefusal(literal, kind));
      return url;
    }
    const name = normalizeHost(url.hostname);
    if (name === "localhost" || name.endsWith(".localhost")) {
      throw new FetchRefusedError(`Refused: ${url.hostname} is a loopback name`);
    }
    return url;
  };

  /** Starts the deadline; the returned signal also follows the caller's. */
  const startDeadline = (callerSignal?: AbortSignal | null) => {
    const controller = new AbortController();
    const timer =
      timeoutMs > 0 && Number.isFinite(timeoutMs)
        ? setTimeout(() => controller.abort(new FetchLimitError(`Timed out after ${timeoutMs} ms`, "timeout")), timeoutMs)
        : undefined;
    const signal = callerSignal ? AbortSignal.any([controller.signal, callerSignal]) : controller.signal;
    return { signal, clear: () => clearTimeout(timer) };
  };

  /** Sends the request and follows redirects; returns the final, unread response. */
  const send = async (start: string | URL, init: { method: string; headers: Headers; body: Uint8Array | null }, signal: AbortSignal) => {
    let url = checkUrl(start);
    let { method, body } = init;
    const headers = new Headers(init.headers);
    if (!headers.has("user-agent")) headers.set("user-agent", userAgent);
    const visited: string[] = [];
    for (let hop = 0; ; hop++) {
      let response: Awaited<ReturnType<typeof undiciFetch>>;
      try {
        response = await undiciFetch(url, {
          method,
          headers: [...headers],
          body,
          redirect: "manual",
          dispatcher: agent,
          signal,
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw describeNetworkError(error, url);
      }
      const location = response.headers.get("location");
      if (!REDIRECT_STATUSES.has(response.status) || !location) return { response, url, visited };
      await response.body?.cancel().catch(() => {});
      if (hop >= maxRedirects) throw new FetchRefusedError(`Refused: more than ${maxRedirects} redirects`);
      visited.push(url.href);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new Error(`Redirect to an invalid URL: ${location.slice(0, 200)}`);
      }
      next = checkUrl(next);
      // Same rules as browsers: 303 (and 301/302 after POST) become a body-less GET.
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
        method = method === "HEAD" ? "HEAD" : "GET";
        body = null;
        headers.delete("content-type");
        headers.delete("content-length");
      }
      // Credentials meant for one origin must not follow a redirect to another.
      if (next.origin !== url.origin) {
        headers.delete("authorization");
        headers.delete("cookie");
        headers.delete("proxy-authorization");
      }
      url = next;
    }
  };

  const request: GuardedFetcher["request"] = async (target, init = {}) => {
    const { signal, clear } = startDeadline(init.signal);
    try {
      const body = typeof init.body === "string" ? new TextEncoder().encode(init.body) : (init.body ?? null);
      const { response, url, visited } = await send(
        target,
        { method: (init.method ?? "GET").toUpperCase(), headers: new Headers(init.headers), body },
        signal,
      );
      const truncate = init.onOversize === "truncate";
      const declared = Number(response.headers.get("content-length"));
      if (!truncate && Number.isFinite(declared) && declared > maxBytes) {
        await response.body?.cancel().catch(() => {});
        throw new FetchLimitError(`Response body is ${declared} bytes, over the ${maxBytes}-byte limit`, "size");
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      let truncated = false;
      if (response.body) {
        const reader = response.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            if (total + value.byteLength > maxBytes) {
              if (!truncate) {
                throw new FetchLimitError(`Response body exceeds the ${maxBytes}-byte limit`, "size");
              }
              chunks.push(value.subarray(0, maxBytes - total));
              total = maxBytes;
              truncated = true;
              break;
            }
            chunks.push(value);
            total += value.byteLength;
          }
        } catch (error) {
          if (signal.aborted) throw signal.reason;
          throw unwrap(error);
        } finally {
          await reader.cancel().catch(() => {});
        }
      }
      const bytes = new Uint8Array(total);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return {
        url: url.href,
        status: response.status,
        headers: new Headers([...response.headers]),
        body: bytes,
        truncated,
        redirects: visited,
      };
    } finally {
      clear();
    }
  };

  const guardedFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    // A URL is checked before the Request constructor sees it: it would reject credentials with a vaguer message.
    if (!(input instanceof Request)) checkUrl(input);
    const normalized = new Request(input, init);
    const body = normalized.body ? new Uint8Array(await normalized.arrayBuffer()) : null;
    const { signal, clear } = startDeadline(normalized.signal);
    let response: Awaited<ReturnType<typeof undiciFetch>>;
    let finalUrl: URL;
    let visited: string[];
    try {
      ({
        response,
        url: finalUrl,
        visited,
      } = await send(normalized.url, { method: normalized.method, headers: normalized.headers, body }, signal));
    } catch (error) {
      clear();
      throw error;
    }
    const declared = Number(response.headers.get("content-length"));
    if (Number.isFinite(declared) && declared > maxBytes) {
      clear();
      await response.body?.cancel().catch(() => {});
      throw new FetchLimitError(`Response body is ${declared} bytes, over the ${maxBytes}-byte limit`, "size");
    }
    let stream: ReadableStream<Uint8Array> | null = null;
    if (response.body && !NULL_BODY_STATUSES.has(response.status)) {
      let total = 0;
      const source = response.body as ReadableStream<Uint8Array>;
      const reader = source.getReader();
      stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const { done, value } = await reader.read();
            if (done) {
              clear();
              controller.close();
              return;
            }
            total += value.byteLength;
            if (total > maxBytes) {
              clear();
              await reader.cancel().catch(() => {});
              controller.error(new FetchLimitError(`Response body exceeds the ${maxBytes}-byte limit`, "size"));
              return;
            }
            controller.enqueue(value);
          } catch (error) {
            clear();
            controller.error(signal.aborted ? signal.reason : unwrap(error));
          }
        },
        async cancel(reason) {
          clear();
          await reader.cancel(reason).catch(() => {});
        },
      });
    } else {
      clear();
      await response.body?.cancel().catch(() => {});
    }
    const result = new Response(stream, {
      status: response.status,
      statusText: response.statusText,
      headers: new Headers([...response.headers]),
    });
    // Response's constructor cannot set these; callers (and the MCP SDK) read them.
    Object.defineProperty(result, "url", { value: finalUrl.href });
    Object.defineProperty(result, "redirected", { value: visited.length > 0 });
    return result;
  };

  return {
    request,
    fetch: guardedFetch as typeof fetch,
    close: () => agent.close(),
  };
}
