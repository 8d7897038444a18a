import type { Context, MiddlewareHandler, Next } from "hono";
import type { AppEnv, Principal } from "../context";
import { ApiError, errors } from "../errors";
import { peekPrincipal } from "../auth";
import { type IdempotencyStore, type StoredResponse, keyRef, requestHash } from "./store";

export { IdempotencyStore } from "./store";

export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/** Headers of a first response that describe the result (not this delivery of it), so replays carry them. */
const NOT_REPLAYED = new Set([
  "set-cookie",
  "x-request-id",
  "date",
  "content-length",
  "connection",
  "transfer-encoding",
  "retry-after",
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
]);

/** A key as Stripe takes it: up to 255 visible ASCII characters. */
const VALID_KEY = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

const ORG_PATH = /^\/v1\/orgs\/([^/]+)/;

export interface IdempotencyOptions {
  store: IdempotencyStore;
  /** Requests whose body a route reads as a stream (uploads): the key is not honoured there. */
  skip?: (path: string) => boolean;
}

/**
 * `Idempotency-Key` on POST, with Stripe's semantics: the first response to a key is kept for the
 * store's TTL and replayed (status, body, headers, plus `Idempotent-Replayed: true`) to the same
 * request; the same key with another method, path or body is 409 `idempotency_key_reused`; a
 * duplicate while the first is still running is 409 `idempotency_request_in_progress`. Keys are
 * scoped to the caller (API key or user) and the org, so nobody replays anyone else's response.
 * Unauthenticated POSTs (signup, login) are not covered: their responses set sessions.
 * Responses that a retry should redo are not kept (5xx, 429). A streamed answer is not replayed:
 * the retry gets 409 `idempotency_stream_not_replayable` with the run to follow (`X-Run-Id`).
 *
 * @example
 * app.use("/v1/*", idempotency({ store: services.idempotency, skip: isUploadPath }));
 */
export function idempotency(options: IdempotencyOptions): MiddlewareHandler<AppEnv> {
  // Only POSTs are replayed: every other request passes without entering the async body below.
  return (c, next) => (c.req.method === "POST" ? replayOrRecord(c, next) : next());
  async function replayOrRecord(c: Context<AppEnv>, next: Next): ReturnType<MiddlewareHandler<AppEnv>> {
    const key = c.req.header(IDEMPOTENCY_HEADER);
    if (key === undefined || options.skip?.(c.req.path)) return next();
    if (!VALID_KEY.test(key)) {
      throw errors.invalid(`The ${IDEMPOTENCY_HEADER} header must be 1 to 255 visible ASCII characters.`, IDEMPOTENCY_HEADER);
    }
    const principal = await peekPrincipal(c);
    if (!principal) return next();

    // Read through Hono's body cache, so the route's validator still gets the body.
    const body = await c.req.arrayBuffer();
    const url = new URL(c.req.url);
    const ref = await keyRef(scopeOf(principal, c.req.path), key);
    const hash = await requestHash(c.req.method, url.pathname + url.search, body);
    const found = await options.store.begin(ref, hash);
    if (found.kind === "mismatch") {
      throw new ApiError(
        "conflict_error",
        `This ${IDEMPOTENCY_HEADER} was already used with a different request (method, path or body); use a new key for a new request.`,
        { param: IDEMPOTENCY_HEADER, code: "idempotency_key_reused" },
      );
    }
    if (found.kind === "running") {
      throw new ApiError(
        "conflict_error",
        `A request with this ${IDEMPOTENCY_HEADER} is still being processed; retry when it has finished.`,
        { param: IDEMPOTENCY_HEADER, code: "idempotency_request_in_progress", retryAfterSeconds: 1 },
      );
    }
    if (found.kind === "stream") {
      const headers = Object.fromEntries(found.response.headers.filter(([name]) => ["x-run-id", "location", "x-conversation-id"].includes(name)));
      const runId = headers["x-run-id"];
      throw new ApiError(
        "conflict_error",
        `The first request with this ${IDEMPOTENCY_HEADER} was answered with a stream, which is not replayed${
          runId ? `; follow run ${runId} through the runs API (GET .../runs/${runId}/events)` : ""
        }.`,
        { param: IDEMPOTENCY_HEADER, code: "idempotency_stream_not_replayable", headers },
      );
    }
    if (found.kind === "done") {
      const { status, headers, body: text } = found.response;
      c.header("Idempotent-Replayed", "true");
      return c.body(text, status as 200, Object.fromEntries(headers));
    }

    try {
      await next();
    } catch (error) {
      // Hono turns route errors into responses before here; this is a failure of the machinery.
      await options.store.release(ref).catch(() => {});
      throw error;
    }
    const res = c.res;
    const headers: [string, string][] = [];
    res.headers.forEach((value, name) => {
      if (!NOT_REPLAYED.has(name)) headers.push([name, value]);
    });
    try {
      if (res.headers.get("content-type")?.startsWith("text/event-stream")) {
        await options.store.complete(ref, "stream", { status: res.status, headers, body: "" });
      } else if (res.status >= 500 || res.status === 429 || res.status === 401) {
        await options.store.release(ref);
      } else {
        const stored: StoredResponse = { status: res.status, headers, body: await res.clone().text() };
        await options.store.complete(ref, "done", stored);
      }
    } catch (error) {
      // The request itself succeeded; a retry would redo it, which is the state before this feature.
      c.var.services.logger.warn("idempotency record failed", { requestId: c.var.requestId, error });
      await options.store.release(ref).catch(() => {});
    }
  }
}

/** The caller and the org: a key is one org's; a user's org is the path's (the principal already scopes it to them). */
function scopeOf(principal: Principal, path: string): string {
  if (principal.kind === "key") return `key:${principal.keyId}\0org:${principal.orgId}`;
  return `user:${principal.userId}\0org:${ORG_PATH.exec(path)?.[1] ?? ""}`;
}
