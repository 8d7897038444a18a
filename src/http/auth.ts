import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { sha256Hex } from "../features/api-keys/key-format";
import { findSessionUser } from "../features/auth/repository";
import { findRole } from "../features/orgs/repository";
import type { ApiKeysTable } from "../db/schema";
import type { AppEnv, OrgAccess, Permission, Principal, Scope } from "./context";
import { errors } from "./errors";
import { permissionsOfRole, permissionsOfScopes, requireAgentScopedRoute, requirePermission } from "./permissions";

export const SESSION_COOKIE = "openpaw_session";

/**
 * The one authentication function of every route: a Bearer API key or the session cookie.
 * Returns null when neither is presented; throws 401 when one is presented and bad. The message
 * never echoes what was sent. On an active custom domain the principal must belong to that
 * domain's org (see requireHostOrg).
 */
export function authenticate(c: Context<AppEnv>): Promise<Principal | null> {
  // Once per request: the rate limits and idempotency ahead of the routes need the caller too.
  let pending = c.get("authentication");
  if (!pending) {
    pending = presentedPrincipal(c).then(async (principal) => {
      if (principal) await requireHostOrg(c, principal);
      return principal;
    });
    // A bad credential is rejected where a route asks for the caller; a middleware that only
    // peeks at it must not leave an unhandled rejection behind.
    pending.catch(() => {});
    c.set("authentication", pending);
  }
  return pending;
}

/** The caller if the request presents a valid credential; null otherwise (never throws). */
export function peekPrincipal(c: Context<AppEnv>): Promise<Principal | null> {
  return authenticate(c).catch(() => null);
}

/**
 * On an active custom domain only that domain's org is reachable. Decided here, where every route
 * (those of today and any added later: runs, OpenAI-compatible, MCP) resolves its caller: a key
 * of another org, or the session of someone who is not a member of the domain's org, is answered
 * 404 as if the route did not exist there, revealing nothing. Org routes check the path's org
 * against the domain as well (resolveOrgAccess), for members of several orgs.
 */
async function requireHostOrg(c: Context<AppEnv>, principal: Principal): Promise<void> {
  const hostOrgId = c.get("hostOrgId");
  if (!hostOrgId) return;
  const belongs =
    principal.kind === "key"
      ? principal.orgId === hostOrgId
      : (await findRole(c.get("services").db.kysely, hostOrgId, principal.userId)) !== undefined;
  if (!belongs) throw errors.notFound("Resource");
}

/**
 * Principals of keys, and their access to their org, made once per key record: the authenticator
 * hands out the same record for every request while it caches it, so a keyed request parses no
 * scopes and builds no permission set. Frozen, since every request of that key shares them.
 */
const keyPrincipals = new WeakMap<ApiKeysTable, Principal>();
const keyAccess = new WeakMap<Principal, OrgAccess>();

function keyPrincipal(key: ApiKeysTable): Principal {
  let principal = keyPrincipals.get(key);
  if (!principal) {
    principal = Object.freeze({
      kind: "key" as const,
      keyId: key.id,
      orgId: key.org_id,
      scopes: Object.freeze(JSON.parse(key.scopes)) as Scope[],
      agentIds: key.agent_ids ? (Object.freeze(JSON.parse(key.agent_ids)) as string[]) : null,
      expiresAt: key.expires_at,
    });
    keyPrincipals.set(key, principal);
  }
  return principal;
}

/** The credential the request presents, checked, whatever the host. */
async function presentedPrincipal(c: Context<AppEnv>): Promise<Principal | null> {
  const services = c.get("services");
  const header = c.req.header("authorization");
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw errors.unauthenticated('Malformed Authorization header; expected "Bearer sk_live_...".', "malformed_authorization");
    const result = await services.apiKeys.check(match[1]);
    if (!result.ok) {
      if (result.reason === "revoked") throw errors.unauthenticated("This API key has been revoked.", "key_revoked");
      if (result.reason === "expired") throw errors.unauthenticated("This API key has expired.", "key_expired");
      throw errors.unauthenticated("Invalid API key.", "invalid_api_key");
    }
    return keyPrincipal(result.key);
  }
  const token = getCookie(c, SESSION_COOKIE);
  if (token) {
    const session = await findSessionUser(services.db.kysely, await sha256Hex(token), Date.now());
    if (!session) throw errors.unauthenticated("Your session has expired or was signed out; sign in again.", "session_expired");
    return { kind: "user", userId: session.userId, email: session.email, sessionId: session.sessionId };
  }
  return null;
}

/** The request's principal (key or session), stored in `c.var.principal`; 401 without one. */
async function requirePrincipal(c: Context<AppEnv>): Promise<Principal> {
  const principal = await authenticate(c);
  if (!principal)
    throw errors.unauthenticated('Authentication required: send an API key as "Authorization: Bearer sk_live_..." or sign in.');
  c.set("principal", principal);
  return principal;
}

/** Requires a principal (key or session) and stores it in `c.var.principal`. */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  await requirePrincipal(c);
  await next();
};

/** Requires a signed-in user (dashboard/account routes that keys may not call). */
export function requireUser(c: Context<AppEnv>): Extract<Principal, { kind: "user" }> {
  const principal = c.get("principal");
  if (principal?.kind !== "user") throw errors.forbidden("This endpoint needs a signed-in user session, not an API key.", "session_required");
  return principal;
}

/**
 * Resolves what the principal may do in an org, or 404 when it has no access (never revealing
 * that the org exists). On an active custom domain only that domain's org is reachable.
 */
export async function resolveOrgAccess(c: Context<AppEnv>, principal: Principal, orgId: string): Promise<OrgAccess> {
  const hostOrgId = c.get("hostOrgId");
  if (hostOrgId && hostOrgId !== orgId) throw errors.notFound("Organization");
  if (principal.kind === "key") {
    if (principal.orgId !== orgId) throw errors.notFound("Organization");
    let access = keyAccess.get(principal);
    if (!access) {
      access = Object.freeze({ orgId, principal, role: null, permissions: permissionsOfScopes(principal.scopes), agentIds: principal.agentIds });
      keyAccess.set(principal, access);
    }
    return access;
  }
  const role = await findRole(c.get("services").db.kysely, orgId, principal.userId);
  if (!role) throw errors.notFound("Organization");
  return { orgId, principal, role, permissions: permissionsOfRole(role), agentIds: null };
}

/**
 * Middleware for `/v1/orgs/:orgId/*`, in one layer: authentication (`c.var.principal`, 401), the
 * caller's access to the org (`c.var.access`, 404 when it has none), a key restricted to some
 * agents refused routes beyond them (403, for every org route at once), and the route's
 * `permission` (403), when it names one.
 *
 * @example
 * app.on("GET", "/v1/orgs/:orgId/agents", orgGuard("read"), handler);
 */
export function orgGuard(permission: Permission | null): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = await requirePrincipal(c);
    const orgId = c.req.param("orgId");
    if (!orgId) throw errors.notFound("Organization");
    const access = await resolveOrgAccess(c, principal, orgId);
    requireAgentScopedRoute(access, c.req.method, c.req.routePath);
    if (permission) requirePermission(access, permission);
    c.set("access", access);
    await next();
  };
}
