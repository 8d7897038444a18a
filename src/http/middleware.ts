import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./context";
import { errors } from "./errors";
import { randomBase62 } from "../lib/ids";
import { routeTemplate } from "./metrics";
import type { Services } from "../services";

/**
 * What every request starts with, in one layer of the chain: the services, no host org and no
 * principal yet, an id (`req_...`, echoed in `X-Request-Id` and in error envelopes), and
 * `X-Content-Type-Options: nosniff` (browsers must not sniff a JSON or text answer into HTML).
 * One layer rather than three: each layer of Hono's chain is an async dispatch, a closure and a
 * resume on every request (a keyed GET passes ~15 of them).
 *
 * @example
 * app.use("*", requestBasics(services));
 */
export function requestBasics(services: Services): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    c.set("services", services);
    c.set("hostOrgId", null);
    c.set("principal", null);
    const id = `req_${randomBase62(20)}`;
    c.set("requestId", id);
    c.header("X-Request-Id", id);
    c.header("X-Content-Type-Options", "nosniff");
    return next();
  };
}

/**
 * One structured log line per request (info; warn for 5xx); never headers or bodies (they carry
 * credentials). It names the route template, the caller's org, the run a chat started (its
 * `X-Run-Id`, to join the run's own line) and the trace, when there is one.
 */
export const accessLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  // c.get rather than c.var in the middleware every request runs: each `c.var` access builds a new
  // object of all the request's variables (Object.fromEntries), 2.5% of a keyed GET's CPU.
  const started = performance.now();
  await next();
  const { logger } = c.get("services");
  const status = c.res.status;
  const principal = c.get("principal");
  const fields = {
    requestId: c.get("requestId"),
    method: c.req.method,
    path: c.req.path,
    route: routeTemplate(c),
    status,
    ms: Math.round((performance.now() - started) * 10) / 10,
    orgId: c.get("access")?.orgId ?? (principal?.kind === "key" ? principal.orgId : undefined),
    runId: c.res.headers.get("x-run-id") ?? undefined,
    traceId: c.get("traceId"),
  };
  if (status >= 500) logger.warn("request failed", fields);
  else logger.info("request", fields);
};

/** Methods whose requests carry no body: the server adapter never reads one for them. */
const BODILESS = new Set(["GET", "HEAD"]);

/**
 * Refuses bodies over `maxBytes` with a 413 envelope, before they are read into memory.
 * - GET and HEAD skip it: the server adapter passes no body to the app for them.
 * - Without `Transfer-Encoding`, Node's HTTP parser reads exactly `Content-Length` bytes as the
 *   body (none without the header), so the header is the body's size and is checked alone.
 *   Hono's bodyLimit looks at the web Request's body first, which makes @hono/node-server build
 *   a full Request with a body stream (0.27 ms of a 8 ms run, measured in a CPU profile) instead
 *   of reading the body straight from the socket when the route parses it.
 * - A chunked body has no size up front: Hono's bodyLimit counts it as it arrives.
 */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  const tooLarge = () => {
    throw errors.tooLarge(`Request body is larger than ${maxBytes} bytes.`);
  };
  const limit = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return (c, next) => {
    if (BODILESS.has(c.req.method)) return next();
    if (c.req.header("transfer-encoding") !== undefined) return limit(c, next);
    return Number(c.req.header("content-length") ?? 0) > maxBytes ? tooLarge() : next();
  };
}

/**
 * Runs `middlewares` in order on requests that may carry a body (every method but GET and HEAD)
 * and passes GET and HEAD straight on: the body limit, the media type and the cross-site check
 * then cost a GET one synchronous check, not a layer of the chain each. Not `except` from
 * hono/combine, which would do the same but through `some` and `every`: two async layers and a
 * composition built anew on every request, GETs included, which is what this avoids.
 *
 * @example
 * app.use("/v1/*", onRequestsWithBodies(limitBody(maxBytes), requireJsonContentType(accept)));
 */
export function onRequestsWithBodies(...middlewares: MiddlewareHandler<AppEnv>[]): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    if (BODILESS.has(c.req.method)) return next();
    // Each middleware's `next` is the one after it; the last one's is the chain's own.
    const run = (i: number): ReturnType<MiddlewareHandler<AppEnv>> => (i === middlewares.length ? next() : middlewares[i](c, () => run(i + 1) as Promise<void>));
    return run(0);
  };
}

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;
const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * A body sent to a JSON route must say it is JSON; otherwise it would be silently ignored.
 * `accept` lists other media types routes take (e.g. text/markdown for SKILL.md uploads).
 */
export function requireJsonContentType(accept: (path: string, mediaType: string) => boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (MUTATING.has(c.req.method)) {
      const hasBody = Number(c.req.header("content-length") ?? 0) > 0 || c.req.header("transfer-encoding") !== undefined;
      const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
      if (hasBody && !JSON_TYPE.test(mediaType) && !accept(c.req.path, mediaType)) {
        throw errors.invalid(`Content-Type must be application/json${mediaType ? `, got ${mediaType}` : ""}.`, undefined, "unsupported_media_type");
      }
    }
    await next();
  };
}

/**
 * CSRF protection for cookie-authenticated mutations: a browser always sends `Origin` (or
 * `Sec-Fetch-Site`) on cross-site POSTs, so one that names another site is refused. Requests
 * with an Authorization header are not cookie-authenticated and pass.
 */
export function csrfOriginCheck(publicUrl: string): MiddlewareHandler<AppEnv> {
  const publicOrigin = new URL(publicUrl).origin;
  return async (c, next) => {
    if (MUTATING.has(c.req.method) && c.req.header("authorization") === undefined) {
      const origin = c.req.header("origin");
      const site = c.req.header("sec-fetch-site");
      const host = c.req.header("host");
      const sameHost = (() => {
        if (!origin || origin === "null") return false;
        try {
          return new URL(origin).host === host;
        } catch {
          return false;
        }
      })();
      const allowed = origin === undefined ? site !== "cross-site" : origin === publicOrigin || sameHost;
      if (!allowed) throw errors.forbidden("Cross-site request refused (Origin does not match this site).", "cross_site_request");
    }
    await next();
  };
}
