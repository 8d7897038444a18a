import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../http/context";
import { ApiError, type ErrorType, errors } from "../../http/errors";
import { limitBody } from "../../http/middleware";
import { createRouter, iso, jsonResponse, OrgIdParam } from "../../http/openapi";
import { type WorkspaceEntry, WorkspaceError, type WorkspaceErrorCode } from "../../runtime/sandbox/types";
import { tierRank } from "../../runtime/tools/types";
import type { Services } from "../../services";
import { planOfOrg } from "../agents/serialize";
import { orgRoute } from "../../http/routes";

const tags = ["Files"];

const EntrySchema = z
  .object({
    name: z.string(),
    path: z.string().openapi({ description: "As the agent sees it, e.g. /workspace/report.md", example: "/workspace/report.md" }),
    type: z.enum(["file", "directory", "symlink", "other"]),
    size: z.number().int().openapi({ description: "Bytes (0 for anything but a regular file)" }),
    modifiedAt: z.string(),
  })
  .openapi("WorkspaceEntry");

const ListSchema = z
  .object({
    data: z.array(EntrySchema),
    usage: z.object({ bytes: z.number().int(), quotaBytes: z.number().int() }),
  })
  .openapi("WorkspaceListing");

const PathDoc = "Relative to /workspace, or absolute under it. `..` segments are refused.";
const Params = z.object({ orgId: OrgIdParam });
const RequiredPath = z.object({ path: z.string().min(1).max(4096).openapi({ description: PathDoc, example: "report.md" }) });
const OptionalPath = z.object({
  path: z
    .string()
    .max(4096)
    .optional()
    .openapi({ description: `${PathDoc} Default: /workspace.` }),
});

/** The global body limit skips this path (app.ts): uploads have their own, larger one. */
const uploadLimit: MiddlewareHandler<AppEnv> = (c, next) => limitBody(c.var.services.config.limits.maxUploadBytes)(c, next);

const binary = (description: string) => ({
  content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
  description,
});
/** Every workspace route: the file work runs in the org's sandbox, which may be unavailable here; the plan must include it. */
const workspaceErrors = {
  403: "Not allowed for this role or key scope, or the org's plan does not include workspace files (`plan_required`)",
  409: "A command of the org kept changing the path while it was resolved, or a directory is in the way or not empty",
  413: "The file is larger than the upload limit, or the workspace quota would be exceeded",
  503: "The org's sandbox cannot start on this server (bubblewrap missing or not permitted)",
} as const;

const listRoute = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/files",
  operationId: "files.list",
  tags,
  summary: "List a directory of the org's workspace, with the workspace's usage (Pro tools)",
  request: { params: Params, query: OptionalPath },
  responses: { 200: jsonResponse(ListSchema, "The directory's entries, sorted by name") },
  errors: workspaceErrors,
  permission: "read",
});

const downloadRoute = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/files/content",
  operationId: "files.download",
  tags,
  summary: "Download a workspace file",
  request: { params: Params, query: RequiredPath },
  responses: { 200: binary("The file's bytes") },
  errors: { ...workspaceErrors, 413: "The file is larger than the largest download" },
  permission: "read",
});

const uploadRoute = orgRoute({
  method: "put",
  path: "/v1/orgs/{orgId}/files/content",
  operationId: "files.upload",
  tags,
  summary: "Upload a file (raw bytes as the body); missing parent directories are created",
  middleware: [uploadLimit],
  request: { params: Params, query: RequiredPath, body: { ...binary("The file's bytes"), required: true } },
  responses: {
    200: jsonResponse(EntrySchema, "The file was replaced"),
    201: jsonResponse(EntrySchema, "The file was created"),
  },
  errors: workspaceErrors,
  permission: "write",
});

const deleteRoute = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/files",
  operationId: "files.delete",
  tags,
  summary: "Delete a file, a symlink (never its target) or an empty directory",
  request: { params: Params, query: RequiredPath },
  responses: { 204: { description: "Deleted" } },
  errors: workspaceErrors,
  permission: "write",
});

/** The workspace belongs to the Pro tools: an org below Pro gets a 403 naming its plan. */
async function requireProPlan(services: Services, orgId: string): Promise<void> {
  const plan = await planOfOrg(services.db.kysely, services.plans, orgId);
  if (tierRank[plan.toolTier] < tierRank.pro) {
    throw errors.forbidden(`Workspace files require the Pro plan or higher; this organization is on the ${plan.name} plan.`, "plan_required");
  }
}

/**
 * The API error of each workspace refusal. A Record, so that a new code cannot be added without
 * deciding its status: a path a command changed or removed meanwhile is a 4xx, never a 500.
 */
const errorTypeOf: Record<WorkspaceErrorCode, ErrorType> = {
  invalid_path: "invalid_request_error",
  not_found: "not_found_error",
  not_a_file: "invalid_request_error",
  not_empty: "conflict_error",
  changed: "conflict_error",
  too_large: "request_too_large_error",
  quota_exceeded: "request_too_large_error",
  permission_denied: "permission_error",
  unavailable: "overloaded_error",
};

/** Runs a workspace operation, turning its refusals into API errors about the `path` parameter. */
async function onWorkspace<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    if (!(error instanceof WorkspaceError)) throw error;
    // The sandbox being down says nothing about the path.
    const options = error.code === "unavailable" ? {} : { param: "path" };
    throw new ApiError(errorTypeOf[error.code], error.message, options);
  }
}

const serializeEntry = (entry: WorkspaceEntry) => ({ ...entry, modifiedAt: iso(entry.modifiedAt) });

/** `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 5987). */
function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** The org workspace for people: list, download, upload, delete, under the same rules as the agent's tools. */
export function fileRoutes() {
  const app = createRouter();

  app.openapi(listRoute, async (c) => {
    const { access, services } = c.var;
    await requireProPlan(services, access.orgId);
    const { path } = c.req.valid("query");
    const [entries, usage] = await onWorkspace(() =>
      Promise.all([services.files.list(access.orgId, path || undefined), services.files.usage(access.orgId)]),
    );
    return c.json({ data: entries.map(serializeEntry), usage: { bytes: usage.usedBytes, quotaBytes: usage.quotaBytes } }, 200);
  });

  app.openapi(downloadRoute, async (c) => {
    const { access, services } = c.var;
    await requireProPlan(services, access.orgId);
    const { path } = c.req.valid("query");
    const bytes = await onWorkspace(() => services.files.read(access.orgId, path));
    const name = path.replace(/\/+$/, "").split("/").pop() || "file";
    // read() copies into a fresh (non-shared) ArrayBuffer; its declared type is only the wider ArrayBufferLike.
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "application/octet-stream",
      "Content-Disposition": contentDisposition(name),
      "Content-Length": String(bytes.byteLength),
      "X-Content-Type-Options": "nosniff",
    });
  });

  app.openapi(uploadRoute, async (c) => {
    const { access, services } = c.var;
    await requireProPlan(services, access.orgId);
    const { path } = c.req.valid("query");
    const data = new Uint8Array(await c.req.arrayBuffer());
    const written = await onWorkspace(() => services.files.write(access.orgId, path, data));
    const entry = {
      name: written.path.split("/").pop() as string,
      path: written.path,
      type: "file" as const,
      size: written.size,
      modifiedAt: iso(Date.now()),
    };
    return c.json(entry, written.created ? 201 : 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const { access, services } = c.var;
    await requireProPlan(services, access.orgId);
    const { path } = c.req.valid("query");
    await onWorkspace(() => services.files.delete(access.orgId, path));
    return c.body(null, 204);
  });

  return app;
}
