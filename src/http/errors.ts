/**
 * Errors are values with a type from DESIGN.md §2. Route code throws an `ApiError`; `toErrorResponse`
 * is the one place that turns any failure into the envelope.
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

export interface ErrorBody {
  error: { type: ErrorType; code?: string; message: string; param?: string; requestId?: string };
}

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly options: {
      param?: string;
      status?: number;
      retryAfterSeconds?: number;
      headers?: Record<string, string>;
      /** Machine-readable reason beside `type` (e.g. `idempotency_key_reused`). */
      code?: string;
    } = {},
  ) {
    super(message);
  }

  get status(): number {
    return this.options.status ?? statusOfType[this.type];
  }

  get param(): string | undefined {
    return this.options.param;
  }
}

/** Shorthands for the common cases, so route code reads as what it means. */
export const errors = {
  invalid: (message: string, param?: string) => new ApiError("invalid_request_error", message, { param }),
  unauthenticated: (message = "Missing or invalid credentials.") => new ApiError("authentication_error", message),
  forbidden: (message = "Your role or key scope does not allow this.") => new ApiError("permission_error", message),
  notFound: (what = "Resource", param?: string) => new ApiError("not_found_error", `${what} not found.`, { param }),
  conflict: (message: string, param?: string) => new ApiError("conflict_error", message, { param }),
  tooLarge: (message = "Request body is too large.") => new ApiError("request_too_large_error", message),
  rateLimited: (retryAfterSeconds: number, message = "Too many requests; retry later.") =>
    new ApiError("rate_limit_error", message, { retryAfterSeconds }),
  quotaExceeded: (message: string) => new ApiError("quota_exceeded_error", message),
  notImplemented: (message: string) => new ApiError("not_implemented_error", message),
  unavailable: (message = "The service is temporarily unavailable; retry shortly.") => new ApiError("overloaded_error", message),
};

/** The envelope of an error as JSON plus its status and headers. */
export function errorEnvelope(
  error: ApiError,
  requestId: string | undefined,
): { status: number; body: ErrorBody; headers: Record<string, string> } {
  const headers: Record<string, string> = { ...(error.options.headers ?? {}) };
  if (error.options.retryAfterSeconds !== undefined)
    headers["Retry-After"] = String(Math.max(1, Math.ceil(error.options.retryAfterSeconds)));
  const body: ErrorBody = {
    error: error.options.code ? { type: error.type, code: error.options.code, message: error.message } : { type: error.type, message: error.message },
  };
  if (error.param) body.error.param = error.param;
  if (requestId) body.error.requestId = requestId;
  return { status: error.status, body, headers };
}
