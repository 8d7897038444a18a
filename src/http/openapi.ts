import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { type JsonLimits, checkJsonBounds } from "../lib/json-bounds";
import type { AppEnv } from "./context";
import { ERROR_CODES, type ErrorCode, type ErrorType, statusOfType, validationError } from "./errors";

/** A router whose request validation failures become our 400 envelope. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, _c) => {
      if (!result.success) throw validationError(result.error as unknown as ZodError, result.target);
    },
  });
}

/** A required JSON request body (validation always runs, whatever the Content-Type). */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { content: { "application/json": { schema } }, required: true, description };
}

/** A JSON response of `schema`. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

export const ErrorSchema = z
  .object({
    error: z.object({
      type: z.enum(Object.keys(statusOfType) as [ErrorType, ...ErrorType[]]).openapi({
        description: "The class of the error; each has one HTTP status (DESIGN.md §2)",
        example: "invalid_request_error",
      }),
      code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).openapi({
        description: "What went wrong, for programs to branch on (stable; listed with their meaning in the README)",
        example: "validation_failed",
      }),
      message: z.string().openapi({ description: "For people: what went wrong and how to fix it (may change)" }),
      param: z.string().optional().openapi({ description: "The parameter or body field at fault, as a dotted path" }),
      requestId: z.string().optional().openapi({ description: "The request's id (also `X-Request-Id`), for support and logs" }),
    }),
  })
  .openapi("Error");

/** Epoch ms → ISO-8601 UTC string (null stays null). */
export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** What every id of ours looks like (`ag_4f9Kq2...`, `skl_builtin_web_research`): a path segment can hold nothing else. */
export const ID_PATTERN = /^[A-Za-z0-9_]{1,64}$/;

/**
 * A path parameter that is an id. Checked against the id format before any use, so an encoded
 * `../` or `/` in it is a 400 naming it, never a path of its own further down.
 */
export function PathId(name: string, example?: string) {
  return z
    .string()
    .regex(ID_PATTERN, "must be an id: 1-64 letters, digits and underscores")
    .openapi({ param: { name, in: "path" }, ...(example ? { example } : {}) });
}

/**
 * The two ways to authenticate (components.securitySchemes of the document): an API key as a
 * bearer token, or the dashboard's session cookie.
 */
export const SECURITY_SCHEMES = {
  apiKey: { type: "http", scheme: "bearer", description: "An API key: `Authorization: Bearer sk_live_...`" },
  session: { type: "apiKey", in: "cookie", name: "openpaw_session", description: "The dashboard's session cookie (signed-in users)" },
} as const;

export const OrgIdParam = PathId("orgId", "org_4f9Kq2");

/**
 * Refinement of every free-form JSON field (metadata and the like): its depth and size are checked
 * without recursion before anything serialises it, so deep nesting is a 400 naming the field
 * rather than a stack overflow later.
 */
/** Bounds of a whole request body that carries free-form JSON (the OpenAI-compatible surface, MCP): as deep as a model's tool input may be. */
export const REQUEST_JSON_LIMITS: Readonly<JsonLimits> = Object.freeze({ maxDepth: 64, maxBytes: 1_048_576 });

export function jsonWithin(limits: JsonLimits) {
  return (value: unknown, ctx: z.RefinementCtx) => {
    const result = checkJsonBounds(value, limits);
    // The issue names where inside the field the limit was passed (its first levels: enough to find it).
    if (!result.ok) ctx.addIssue({ code: "custom", message: result.message, path: result.path.slice(0, 12) });
  };
}

/** Query parameters of a paginated list: `page` is 1-based, `limit` 1..200 (default 50). */
export const PaginationQuery = z.object({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** The envelope of a paginated list. */
export function paginated<T>(data: T[], page: number, limit: number, total: number) {
  return { data, page, limit, total, hasMore: page * limit < total };
}
