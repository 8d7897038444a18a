import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { isConnectionError, isForeignKeyViolation } from "../db";
import type { AppEnv } from "./context";

/**
 * Errors are values with a type from DESIGN.md §2 and a machine-readable `code` beside it. Route
 * code throws an `ApiError`; `createErrorHandler` is the one place that turns any failure into
 * the envelope.
 */
export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "quota_exceeded_error"
  | "permission_error"
  | "not_found_error"
  | "conflict_error"
  | "request_too_large_error"
  | "rate_limit_error"
  | "api_error"
  | "provider_error"
  | "overloaded_error"
  | "not_implemented_error"
  | "misdirected_request_error";

export const statusOfType: Record<ErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  quota_exceeded_error: 402,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  request_too_large_error: 413,
  rate_limit_error: 429,
  api_error: 500,
  provider_error: 502,
  overloaded_error: 503,
  not_implemented_error: 501,
  misdirected_request_error: 421,
};

/**
 * Every `code` an error can carry, with its type and what it means. Codes are stable: clients
 * branch on them (types are coarse; messages are for people and may change). The README's table
 * of codes is checked against this list (src/http/error-codes.test.ts).
 */
export const ERROR_CODES = {
  validation_failed: { type: "invalid_request_error", meaning: "A parameter or body field failed validation; `param` names it." },
  unknown_parameter: { type: "invalid_request_error", meaning: "The body has a field the operation does not take; `param` names it." },
  unsupported_media_type: { type: "invalid_request_error", meaning: "The body's Content-Type is not one the operation takes." },
  invalid_request: { type: "invalid_request_error", meaning: "The request cannot be served as sent (the message says why)." },
  event_log_expired: { type: "invalid_request_error", meaning: "410: the run's event log was pruned; the run itself can still be read." },
  authentication_required: { type: "authentication_error", meaning: "No credentials were sent." },
  malformed_authorization: { type: "authentication_error", meaning: 'The Authorization header is not "Bearer <key>".' },
  invalid_api_key: { type: "authentication_error", meaning: "The API key is unknown." },
  key_revoked: { type: "authentication_error", meaning: "The API key was revoked." },
  key_expired: { type: "authentication_error", meaning: "The API key is past its expiry." },
  session_expired: { type: "authentication_error", meaning: "The session cookie is expired or was signed out." },
  invalid_credentials: { type: "authentication_error", meaning: "Sign-in with a wrong email or password." },
  quota_exceeded: { type: "quota_exceeded_error", meaning: "The plan's token limit is reached and the plan has no overage." },
  permission_denied: { type: "permission_error", meaning: "The role or the key's scopes do not allow this." },
  key_restricted: { type: "permission_error", meaning: "The key is restricted to some agents and this is beyond them." },
  session_required: { type: "permission_error", meaning: "The operation needs a signed-in user, not an API key." },
  agent_limit_reached: { type: "permission_error", meaning: "The plan allows no more agents." },
  plan_required: { type: "permission_error", meaning: "The feature needs a higher plan." },
  signup_closed: { type: "permission_error", meaning: "Sign-up is closed on this deployment." },
  cross_site_request: { type: "permission_error", meaning: "A cookie-authenticated mutation came from another site (CSRF check)." },
  not_found: { type: "not_found_error", meaning: "No such resource (or another org's: never revealed)." },
  route_not_found: { type: "not_found_error", meaning: "No operation has this method and path." },
  conflict: { type: "conflict_error", meaning: "The request conflicts with the resource's current state (the message says how)." },
  already_exists: { type: "conflict_error", meaning: "A resource with this unique name, email or domain already exists." },
  run_ended: { type: "conflict_error", meaning: "The run (or response) has already ended, or is still in progress where it must have ended." },
  concurrent_deletion: { type: "conflict_error", meaning: "Something the request refers to was deleted while it was under way." },
  idempotency_key_reused: { type: "conflict_error", meaning: "The Idempotency-Key was used with a different request (method, path or body) in the last 24 h." },
  idempotency_request_in_progress: { type: "conflict_error", meaning: "A request with this Idempotency-Key is still being served; retry after `Retry-After`." },
  idempotency_stream_not_replayable: {
    type: "conflict_error",
    meaning: "The Idempotency-Key's first request was a streamed chat, which is not replayed; follow its run (`X-Run-Id`) instead.",
  },
  request_too_large: { type: "request_too_large_error", meaning: "The body, a file or the workspace quota is too large." },
  rate_limited: { type: "rate_limit_error", meaning: "Too many requests; `Retry-After` says when to retry." },
  concurrency_limit_reached: { type: "rate_limit_error", meaning: "Too many concurrent or queued runs; `Retry-After` says when to retry." },
  internal_error: { type: "api_error", meaning: "Our failure, logged with the request id." },
  provider_error: { type: "provider_error", meaning: "The model provider or Stripe failed." },
  model_unavailable: { type: "provider_error", meaning: "503: the agent's model is not served by any configured provider." },
  unavailable: { type: "overloaded_error", meaning: "Temporarily unavailable (sandbox, capacity); retry shortly." },
  database_unavailable: { type: "overloaded_error", meaning: "The database is unreachable; retry shortly." },
  not_implemented: { type: "not_implemented_error", meaning: "The feature is not configured here (e.g. Stripe)." },
  host_mismatch: { type: "misdirected_request_error", meaning: "421: the Host is neither the gateway's nor an active custom domain." },
} as const satisfies Record<string, { type: ErrorType; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The code of an error that names none: the generic one of its type. */
const defaultCodeOfType: Record<ErrorType, ErrorCode> = {
  invalid_request_error: "invalid_request",
  authentication_error: "authentication_required",
  quota_exceeded_error: "quota_exceeded",
  permission_error: "permission_denied",
  not_found_error: "not_found",
  conflict_error: "conflict",
  request_too_large_error: "request_too_large",
  rate_limit_error: "rate_limited",
  api_error: "internal_error",
  provider_error: "provider_error",
  overloaded_error: "unavailable",
  not_implemented_error: "not_implemented",
  misdirected_request_error: "host_mismatch",
};

export interface ErrorBody {
  error: { type: ErrorType; code: ErrorCode; message: string; param?: string; requestId?: string };
}

export interface ApiErrorOptions {
  code?: ErrorCode;
  param?: string;
  status?: number;
  retryAfterSeconds?: number;
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly options: ApiErrorOptions = {},
  ) {
    super(message);
  }

  get status(): number {
    return this.options.status ?? statusOfType[this.type];
  }

  get param(): string | undefined {
    return this.options.param;
  }

  get code(): ErrorCode {
    return this.options.code ?? defaultCodeOfType[this.type];
  }
}

/** Shorthands for the common cases, so route code reads as what it means. */
export const errors = {
  invalid: (message: string, param?: string, code?: ErrorCode) => new ApiError("invalid_request_error", message, { param, code }),
  unauthenticated: (message = "Missing or invalid credentials.", code?: ErrorCode) => new ApiError("authentication_error", message, { code }),
  forbidden: (message = "Your role or key scope does not allow this.", code?: ErrorCode) => new ApiError("permission_error", message, { code }),
  notFound: (what = "Resource", param?: string) => new ApiError("not_found_error", `${what} not found.`, { param }),
  conflict: (message: string, param?: string, code?: ErrorCode) => new ApiError("conflict_error", message, { param, code }),
  tooLarge: (message = "Request body is too large.") => new ApiError("request_too_large_error", message),
  rateLimited: (retryAfterSeconds: number, message = "Too many requests; retry later.", code?: ErrorCode) =>
    new ApiError("rate_limit_error", message, { retryAfterSeconds, code }),
  quotaExceeded: (message: string) => new ApiError("quota_exceeded_error", message),
  notImplemented: (message: string) => new ApiError("not_implemented_error", message),
  unavailable: (message = "The service is temporarily unavailable; retry shortly.", code?: ErrorCode) =>
    new ApiError("overloaded_error", message, { code }),
};

/** Turns a zod validation failure into a 400 naming the first bad field and why. */
export function validationError(error: ZodError, target: string): ApiError {
  const issue = error.issues[0];
  const path = issue?.path.map(String).join(".") ?? "";
  const param = path || (target === "json" ? undefined : target);
  let message = issue?.message ?? "Invalid request.";
  if (issue?.code === "unrecognized_keys") {
    const keys = (issue as { keys?: string[] }).keys ?? [];
    message = `Unknown parameter${keys.length > 1 ? "s" : ""}: ${keys.join(", ")}.`;
    return new ApiError("invalid_request_error", message, { param: [path, keys[0]].filter(Boolean).join("."), code: "unknown_parameter" });
  }
  if (issue?.code === "invalid_type" && /received undefined/.test(message)) message = "This field is required.";
  return new ApiError("invalid_request_error", param ? `Invalid ${param}: ${message}` : message, { param, code: "validation_failed" });
}

/**
 * `WWW-Authenticate` of a 401 (RFC 9110 §11.6.1, RFC 6750 §3): how to authenticate, and whether
 * the credential sent was refused (`invalid_token`) rather than missing.
 */
export function wwwAuthenticate(code: string): string {
  return code === "authentication_required" ? 'Bearer realm="OpenPaw"' : 'Bearer realm="OpenPaw", error="invalid_token"';
}

/** The envelope of an error as JSON plus its status and headers. */
export function errorEnvelope(
  error: ApiError,
  requestId: string | undefined,
): { status: number; body: ErrorBody; headers: Record<string, string> } {
  const body: ErrorBody = { error: { type: error.type, code: error.code, message: error.message } };
  if (error.param) body.error.param = error.param;
  if (requestId) body.error.requestId = requestId;
  return { status: error.status, body, headers: errorHeaders(error) };
}

/** Headers every error carries whatever its body's shape: `Retry-After`, `WWW-Authenticate` on a 401. */
export function errorHeaders(error: ApiError): Record<string, string> {
  const headers: Record<string, string> = { ...(error.options.headers ?? {}) };
  if (error.options.retryAfterSeconds !== undefined)
    headers["Retry-After"] = String(Math.max(1, Math.ceil(error.options.retryAfterSeconds)));
  if (error.status === 401 && !Object.keys(headers).some((h) => h.toLowerCase() === "www-authenticate"))
    headers["WWW-Authenticate"] = wwwAuthenticate(error.code);
  return headers;
}

/** PostgreSQL refuses NUL in text (SQLite stores it): that is the client's input, not our failure. */
const isUntextableInput = (error: unknown) => ["22021", "22P05"].includes((error as { code?: string })?.code ?? "");

/** Any thrown value as an ApiError: ours as they are, the rest classified (and logged when they are our failure). */
export function toApiError(error: unknown, c: Context<AppEnv>): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException) {
    if (error.status === 413) return errors.tooLarge();
    if (error.status === 400) return errors.invalid(error.message || "Invalid request.");
    return new ApiError(error.status >= 500 ? "api_error" : "invalid_request_error", error.message || "Request failed.", {
      status: error.status,
    });
  }
  if (error && typeof error === "object" && (error as { name?: string }).name === "ZodError") return validationError(error as never, "json");
  if (isUntextableInput(error)) return errors.invalid("Text fields must not contain NUL characters.", undefined, "validation_failed");
  if (isForeignKeyViolation(error)) {
    // Only a concurrent deletion gets here (what the request names was checked first), e.g. a
    // request that authenticated just before its org was deleted on another replica.
    return errors.conflict("Something this request refers to was deleted while it was under way.", undefined, "concurrent_deletion");
  }
  if (isConnectionError(error)) {
    c.var.services?.logger.error("database unavailable", { requestId: c.var.requestId, error });
    return errors.unavailable("The database is temporarily unavailable; retry shortly.", "database_unavailable");
  }
  c.var.services?.logger.error("unhandled error", { requestId: c.var.requestId, path: c.req.path, error });
  return new ApiError("api_error", "Something went wrong on our side. Quote the request id if you contact support.");
}

/** A surface with an error body of its own (the OpenAI-compatible one): which paths, and how its body looks. */
export interface ErrorShape {
  matches(path: string): boolean;
  envelope(error: ApiError): { status: number; body: unknown; headers: Record<string, string> };
}

/**
 * The app's error handler: converts any thrown value into the error envelope (or the shape of the
 * surface whose path it is); the one place errors become responses.
 */
export function createErrorHandler(shapes: readonly ErrorShape[] = []) {
  return (error: unknown, c: Context<AppEnv>): Response => {
    const apiError = toApiError(error, c);
    const shape = shapes.find((s) => s.matches(c.req.path));
    const { status, body, headers } = shape ? shape.envelope(apiError) : errorEnvelope(apiError, c.var.requestId);
    return c.json(body, status as 400, { ...errorHeaders(apiError), ...headers });
  };
}
