/**
 * OpenAI's error shape for everything under `/openai/v1` (`{"error":{"message","type","param",
 * "code"}}`), so the OpenAI SDKs raise their typed errors (BadRequestError, AuthenticationError,
 * NotFoundError, RateLimitError, …: they go by status). The statuses are ours (DESIGN.md §2: 402
 * for a plan's token limit, 404 for anything another org owns); `type` and `code` follow OpenAI's
 * vocabulary. The app's error handler (http/errors.ts) calls this for those paths: the one place they are mapped.
 */
import { type ApiError, type ErrorType, errorHeaders } from "../../http/errors";

export const OPENAI_BASE = "/openai/v1";

/** True for the paths of the OpenAI-compatible surface. */
export const isOpenAiPath = (path: string) => path === OPENAI_BASE || path.startsWith(`${OPENAI_BASE}/`);

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const vocabulary: Record<ErrorType, { type: string; code: string | null }> = {
  invalid_request_error: { type: "invalid_request_error", code: null },
  authentication_error: { type: "invalid_request_error", code: "invalid_api_key" },
  quota_exceeded_error: { type: "insufficient_quota", code: "insufficient_quota" },
  permission_error: { type: "permission_error", code: "insufficient_permissions" },
  not_found_error: { type: "invalid_request_error", code: "not_found" },
  conflict_error: { type: "invalid_request_error", code: "conflict" },
  request_too_large_error: { type: "invalid_request_error", code: "request_too_large" },
  rate_limit_error: { type: "requests", code: "rate_limit_exceeded" },
  api_error: { type: "server_error", code: null },
  provider_error: { type: "server_error", code: "provider_error" },
  overloaded_error: { type: "server_error", code: "overloaded" },
  not_implemented_error: { type: "invalid_request_error", code: "not_implemented" },
  misdirected_request_error: { type: "invalid_request_error", code: "misdirected_request" },
};

/** `messages.2.content.0.type` → `messages[2].content[0].type`, as OpenAI names parameters. */
export function openAiParam(param: string | undefined): string | null {
  if (!param) return null;
  return param.replace(/\.(\d+)(?=\.|$)/g, "[$1]");
}

/**
 * The OpenAI-shaped error of an ApiError, its status and headers. Retrying a conflict cannot help,
 * so the SDKs are told not to (`x-should-retry: false`; they retry 409 by default).
 */
export function openAiErrorEnvelope(error: ApiError): { status: number; body: OpenAiErrorBody; headers: Record<string, string> } {
  const { type, code } = vocabulary[error.type];
  const notFoundModel = error.type === "not_found_error" && error.param === "model";
  const headers = errorHeaders(error);
  if (error.status === 409) headers["x-should-retry"] = "false";
  return {
    status: error.status,
    body: { error: { message: error.message, type, param: openAiParam(error.param), code: notFoundModel ? "model_not_found" : code } },
    headers,
  };
}
