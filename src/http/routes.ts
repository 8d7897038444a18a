import { type RouteConfig, type z, createRoute } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { orgGuard, requireAuth } from "./auth";
import { isGatewayOnly } from "./host-routing";
import type { AppEnv, Permission } from "./context";
import { ErrorSchema } from "./openapi";

/**
 * Route declarations that say once what the middleware does: who may call (the security of the
 * document and the authentication middleware), the permission an org route needs, and every
 * error status the gateway's middleware and the route's own code can answer, each with the error
 * envelope. So the document cannot drift from the code: the statuses middleware produces are
 * derived here from the same facts that install it. The security suites check every answer they
 * get against the statuses its operation declares (test/security/support.ts), and
 * src/http/routes.test.ts checks the shape of every operation.
 */

export type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 406 | 409 | 410 | 413 | 421 | 429 | 500 | 501 | 502 | 503;

/** What each error status means wherever a route does not say more. */
export const ERROR_STATUS_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: "Invalid request: a parameter, query or body field failed validation (`param` names it, `code` says how)",
  401: "Missing, malformed, unknown, revoked or expired credentials; `WWW-Authenticate` says how to authenticate",
  402: "The plan's token limit is reached and the plan has no overage (`quota_exceeded`)",
  403: "Authenticated, but the role or key scope does not allow this (or a cross-site cookie request was refused)",
  404: "Not found, including another organization's resources (never revealed to exist)",
  406: "Not acceptable: the `Accept` header allows none of the media types this operation answers with",
  409: "Something this request refers to was deleted while it was under way (`concurrent_deletion`), or its `Idempotency-Key` was used with another request or is still being served (`idempotency_key_reused`, `idempotency_request_in_progress`)",
  410: "Gone",
  413: "The request body is larger than the gateway's limit",
  421: "Misdirected request: the Host is neither the gateway's own nor an active custom domain",
  429: "Too many requests; `Retry-After` says when to retry",
  500: "Unexpected server error, logged with the request id (the message says nothing internal)",
  501: "Not configured on this deployment",
  502: "An upstream provider failed",
  503: "Temporarily unavailable (the database, the sandbox or a provider); retry shortly",
};

/**
 * Who may call an operation, as `security` of the document:
 * `public` needs no credential, `principal` an API key or the session cookie, `key` an API key
 * only, `user` a signed-in user's session (an API key is 403 there).
 */
export type Audience = "public" | "principal" | "key" | "user";

export const SECURITY_OF: Record<Audience, Array<Record<string, string[]>>> = {
  public: [],
  principal: [{ apiKey: [] }, { session: [] }],
  key: [{ apiKey: [] }],
  user: [{ session: [] }],
};

const MUTATING = new Set(["post", "put", "patch", "delete"]);

type Responses = NonNullable<RouteConfig["responses"]>;

/** The error responses of `statuses` with the envelope's schema (OpenAI's shape on that surface). */
export function errorResponses(statuses: Partial<Record<ErrorStatus, string>>, schema: z.ZodType = ErrorSchema): Responses {
  const out: Responses = {};
  for (const [status, description] of Object.entries(statuses)) {
    out[status] = { description: description as string, content: { "application/json": { schema } } };
  }
  return out;
}

/** Where the body limit, the JSON Content-Type check, request rate limits and Idempotency-Key apply (app.ts). */
const underApi = (path: string) => path.startsWith("/v1/") || path.startsWith("/openai/") || path === "/mcp";

/** The statuses the gateway's own middleware can answer on an operation (see app.ts for the order they run in). */
export function middlewareStatuses(route: {
  method: string;
  path: string;
  audience: Audience;
  hasInput: boolean;
}): Partial<Record<ErrorStatus, string>> {
  const d = ERROR_STATUS_DESCRIPTIONS;
  // Host routing, the error handler and the database's availability apply to every request.
  const out: Partial<Record<ErrorStatus, string>> = { 421: d[421], 500: d[500], 503: d[503] };
  if (route.audience !== "public") {
    out[401] = d[401];
    // On an org's custom domain a credential of another org authenticates nothing there (http/auth).
    out[404] = "On an organization's custom domain: the credential belongs to another organization (never revealed)";
  }
  if (isGatewayOnly(route.method.toUpperCase(), route.path)) out[404] = "Not served on an organization's custom domain (only on the gateway's own host)";
  if (route.audience === "user") out[403] = "A signed-in user's session is needed, not an API key (`session_required`)";
  // Request rate limits count API keys (plans' `rateLimitPerKey` / `rateLimitPerOrg`).
  if ((route.audience === "principal" || route.audience === "key") && underApi(route.path)) out[429] = d[429];
  // Validation of path, query and body.
  if (route.hasInput) out[400] = d[400];
  if (MUTATING.has(route.method)) {
    // Anywhere: a concurrent deletion; under the API also a reused or in-flight Idempotency-Key (409).
    out[409] = d[409];
    if (underApi(route.path)) {
      // The body limit (413) and the Content-Type check (400); the cookie CSRF check (403) under /v1.
      out[400] = d[400];
      out[413] = d[413];
      if (route.path.startsWith("/v1/")) out[403] ??= d[403];
    }
  }
  return out;
}

interface DeclaredErrors {
  /** Error statuses the route's own code answers, with what they mean there (409s say what conflicts). */
  errors?: Partial<Record<ErrorStatus, string>>;
}

export interface ApiRouteConfig extends Omit<RouteConfig, "security">, DeclaredErrors {
  operationId: string;
  summary: string;
  description: string;
  audience: Audience;
  /** The schema of error bodies (OpenAI's on that surface). */
  errorSchema?: z.ZodType;
}

/**
 * A route's own description of a status wins over the generic one; a 409 keeps the concurrent
 * deletion the middleware can answer beside what the route's conflict is.
 */
function mergeErrors(
  generic: Partial<Record<ErrorStatus, string>>,
  own: Partial<Record<ErrorStatus, string>> = {},
): Partial<Record<ErrorStatus, string>> {
  const out = { ...generic, ...own };
  if (own[409] && generic[409] === ERROR_STATUS_DESCRIPTIONS[409]) out[409] = `${own[409]}; or: ${ERROR_STATUS_DESCRIPTIONS[409]}`;
  return out;
}

/**
 * An operation of any kind with its security and every error status declared. `principal` and
 * `user` routes get `requireAuth` first; `key` routes authenticate in their own middleware (the
 * key-only surfaces refuse a cookie before anything else).
 */
export function apiRoute<P extends string, R extends ApiRouteConfig & { path: P }>(config: R) {
  const auth = config.audience === "principal" || config.audience === "user" ? [requireAuth] : [];
  return declaredRoute(config, auth);
}

/** `config` declared, with `auth` (the middleware that authenticates, if any) ahead of its own middleware. */
function declaredRoute<P extends string, R extends ApiRouteConfig & { path: P }>(config: R, auth: MiddlewareHandler<AppEnv>[]) {
  const { audience, errors: own, errorSchema, middleware, ...route } = config;
  const extra = middleware === undefined ? [] : Array.isArray(middleware) ? middleware : [middleware];
  const hasInput = Object.keys(route.request ?? {}).length > 0;
  const statuses = mergeErrors(middlewareStatuses({ method: route.method, path: route.path, audience, hasInput }), own);
  return createRoute({
    ...route,
    middleware: [...auth, ...extra] as MiddlewareHandler<AppEnv>[],
    security: SECURITY_OF[audience],
    responses: { ...errorResponses(statuses, errorSchema), ...route.responses },
  }) as unknown as Omit<R, "audience" | "errors" | "errorSchema" | "middleware"> & {
    middleware: MiddlewareHandler<AppEnv>[];
    getRoutingPath(): ReturnType<ReturnType<typeof createRoute<P, R>>["getRoutingPath"]>;
  };
}

export interface OrgRouteConfig extends Omit<ApiRouteConfig, "audience" | "errorSchema" | "description"> {
  /** More than the permission (which the description states by itself); required where the handler decides. */
  description?: string;
  /**
   * The permission the caller needs in the org, checked before the request is validated; null
   * where the handler decides (e.g. a chat key may cancel the runs it started, a member may leave).
   */
  permission: Permission | null;
}

/**
 * An operation under `/v1/orgs/{orgId}`: authentication (key or session), the caller's access to
 * the org (404 when it has none; 403 beyond a restricted key's agents), the permission, and the
 * error statuses all of these answer. One middleware (`orgGuard`) does all four, so a request
 * passes one layer of the chain for them rather than three.
 */
export function orgRoute<P extends string, R extends OrgRouteConfig & { path: P }>(config: R) {
  const { permission, middleware, errors: own, description, ...route } = config;
  if (!permission && !description) throw new Error(`${route.operationId}: say who may call it (the handler decides)`);
  const needed = permission ? `Needs \`${permission}\` permission in the organization (a role or key scope that grants it).` : "";
  const orgErrors: Partial<Record<ErrorStatus, string>> = {
    403: ERROR_STATUS_DESCRIPTIONS[403],
    404: "Not found: no such organization for this caller, or no such resource in it (another org's is never revealed)",
  };
  return declaredRoute(
    {
      ...route,
      description: [needed, description?.replace(/^Needs \w+ permission\.\s*/, "")].filter(Boolean).join(" "),
      audience: "principal",
      middleware,
      errors: mergeErrors(orgErrors, own),
    },
    [orgGuard(permission)],
  ) as unknown as Omit<R, "permission" | "errors" | "middleware"> & {
    middleware: MiddlewareHandler<AppEnv>[];
    getRoutingPath(): ReturnType<ReturnType<typeof createRoute<P, R>>["getRoutingPath"]>;
  };
}
