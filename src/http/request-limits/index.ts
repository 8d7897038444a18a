import type { MiddlewareHandler } from "hono";
import { peekPrincipal } from "../auth";
import type { AppEnv } from "../context";
import { errors } from "../errors";
import type { WindowCounter } from "../rate-limit";

/** An org's limits per window; null = none. */
export interface RequestLimits {
  perKey: number | null;
  perOrg: number | null;
}

export interface RequestLimitOptions {
  /** Counts per API key (`key:<id>`) and per org (`org:<id>`), shared across replicas through Redis. */
  counter: WindowCounter;
  /** The limits of the org's plan. */
  limitsOf: (orgId: string) => Promise<RequestLimits>;
}

interface Count {
  of: "this API key" | "this organization";
  limit: number;
  count: number;
  resetMs: number;
}

/**
 * Request rate limits per API key and per org, the numbers from the org's plan. Every limited
 * response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds; the
 * IETF draft's fields) of whichever limit is closest to running out; over a limit the answer is
 * 429 `rate_limit_error` with `Retry-After`. Requests without an API key (the dashboard's session,
 * signup and login, which have their own limits) pass untouched.
 *
 * @example
 * app.use("/v1/*", requestLimits({ counter, limitsOf: async (orgId) => planLimits(orgId) }));
 */
export function requestLimits(options: RequestLimitOptions): MiddlewareHandler<AppEnv> {
  const count = async (of: Count["of"], key: string, limit: number | null): Promise<Count | null> =>
    limit === null ? null : { of, limit, ...(await options.counter.hit(key)) };
  return async (c, next) => {
    const principal = await peekPrincipal(c);
    if (principal?.kind !== "key") return next();
    const limits = await options.limitsOf(principal.orgId);
    if (limits.perKey === null && limits.perOrg === null) return next();
    const counted = await Promise.all([
      count("this API key", `key:${principal.keyId}`, limits.perKey),
      count("this organization", `org:${principal.orgId}`, limits.perOrg),
    ]);
    const counts = counted.filter((x): x is Count => x !== null);
    const over = counts.filter((x) => x.count > x.limit).sort((x, y) => y.resetMs - x.resetMs)[0];
    const shown = over ?? counts.sort((x, y) => x.limit - x.count - (y.limit - y.count))[0];
    const headers = {
      "RateLimit-Limit": String(shown.limit),
      "RateLimit-Remaining": String(Math.max(0, shown.limit - shown.count)),
      "RateLimit-Reset": String(Math.max(0, Math.ceil(shown.resetMs / 1000))),
    };
    if (over) {
      const error = errors.rateLimited(over.resetMs / 1000, `Rate limit of ${over.limit} requests per window reached for ${over.of}; retry after Retry-After seconds.`);
      error.options.headers = headers;
      throw error;
    }
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    await next();
  };
}
