import { isIP } from "node:net";
import type { Context, MiddlewareHandler } from "hono";
import { canonicalHost } from "../features/domains/normalize";
import type { AppEnv } from "./context";
import { ApiError, errors } from "./errors";

/** Paths that answer on any Host: liveness and readiness probes address replicas by whatever name. */
const ANY_HOST_PATHS = new Set(["/healthz", "/readyz"]);

/**
 * What belongs to the gateway rather than to any org, and so does not exist on an org's custom
 * domain: creating accounts and orgs (which would not be that org's) and the internal endpoints
 * for the gateway's operators (TLS ask, diagnostics).
 */
export function isGatewayOnly(method: string, path: string): boolean {
  return (method === "POST" && (path === "/v1/auth/signup" || path === "/v1/orgs")) || path.startsWith("/internal/");
}

/** The request's host name: the Host header (port dropped, lower case), else the URL's. */
export function requestHost(c: Context<AppEnv>): string {
  const header = c.req.header("host");
  return canonicalHost(header && header.trim() !== "" ? header : new URL(c.req.url).host);
}

/**
 * Hosts that always reach the gateway as itself (no org chosen): the public URL's host, the
 * configured listen HOST, loopback names (localhost, *.localhost) and any IP literal, which load
 * balancers' health checks, local clients and tests use.
 */
export function isGatewayHost(host: string, gateway: { publicHost: string; listenHost: string }): boolean {
  return (
    host === gateway.publicHost || host === gateway.listenHost || host === "localhost" || host.endsWith(".localhost") || isIP(host) !== 0
  );
}

/**
 * Routes by Host. On an active custom domain the request is served for that domain's org alone
 * (`c.var.hostOrgId`, which authentication consults for every route, see http/auth; the Host
 * chooses the org and grants nothing). A host that is neither the gateway's own nor an active custom domain gets 421
 * Misdirected Request. The lookup is an in-memory map (see ActiveDomainDirectory): no query per
 * request. X-Forwarded-Host is not consulted: the reverse proxy must pass Host through.
 */
export const hostRouting: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { domains, config } = c.get("services");
  const host = requestHost(c);
  if (isGatewayHost(host, { publicHost: domains.publicHost, listenHost: canonicalHost(config.host) })) return next();
  const orgId = await domains.directory.orgOf(host);
  if (orgId) {
    if (isGatewayOnly(c.req.method, c.req.path)) throw errors.notFound("Resource");
    c.set("hostOrgId", orgId);
    return next();
  }
  if (ANY_HOST_PATHS.has(c.req.path)) return next();
  throw new ApiError("misdirected_request_error", `This server is not configured to answer for ${host}.`);
};
