import { z } from "@hono/zod-openapi";
import { isUniqueViolation } from "../../db";
import type { McpServersTable } from "../../db/schema";
import { errors } from "../../http/errors";
import { OrgIdParam, PathId, createRouter, iso, jsonBody, jsonResponse } from "../../http/openapi";
import { newId } from "../../lib/ids";
import { MISSING_SECRET_KEY_MESSAGE, encryptSecret, maskSecret } from "../../lib/secrets";
import { describeMcpError } from "../../runtime/tools/mcp";
import { outboundUrlProblem } from "../../runtime/tools/net/url-policy";
import type { Services } from "../../services";
import { deleteMcpServer, findMcpServer, insertMcpServer, listMcpServers, updateMcpServer } from "./repository";
import { orgRoute } from "../../http/routes";

const tags = ["MCP servers"];

/** Header names as HTTP allows them; the ones the transport owns are refused. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
const RESERVED_HEADERS = new Set(["host", "content-length", "content-type", "accept", "connection", "transfer-encoding", "mcp-session-id", "mcp-protocol-version"]);

const Name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, { message: "Must be a slug: 1-32 lower-case letters, digits, '-' or '_', starting with a letter or digit." });
const Url = z.string().trim().min(1).max(2048);
const Headers = z
  .record(z.string(), z.string().max(8192).regex(/^[^\r\n\0]*$/, { message: "Header values cannot contain line breaks." }))
  .refine((h) => Object.keys(h).length <= 20, { message: "At most 20 headers." });

const McpServerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    url: z.string(),
    headers: z.record(z.string(), z.string()).openapi({ description: "Header names with masked values: secrets are never returned." }),
    enabled: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("McpServer");

const CreateBody = z.strictObject({ name: Name, url: Url, headers: Headers.optional(), enabled: z.boolean().default(true) }).openapi("CreateMcpServerRequest");
const UpdateBody = z
  .strictObject({ name: Name.optional(), url: Url.optional(), headers: Headers.nullable().optional(), enabled: z.boolean().optional() })
  .openapi("UpdateMcpServerRequest");

const TestResult = z
  .object({
    ok: z.boolean(),
    tools: z.array(z.object({ name: z.string(), description: z.string(), inputSchema: z.record(z.string(), z.unknown()) })),
    error: z.object({ message: z.string() }).nullable(),
  })
  .openapi("McpServerTestResult");

const Params = z.object({ orgId: OrgIdParam });
const ServerParams = Params.extend({ serverId: PathId("serverId") });

const createServer = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/mcp-servers",
  operationId: "mcpServers.create",
  tags,
  summary: "Register an MCP server (Streamable HTTP or HTTP+SSE)",
  request: { params: Params, body: jsonBody(CreateBody) },
  responses: { 201: jsonResponse(McpServerSchema, "The server") },
  errors: { 409: "The org already has an MCP server with this name (`already_exists`)" },
  permission: "write",
});
const listServers = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/mcp-servers",
  operationId: "mcpServers.list",
  tags,
  summary: "List the org's MCP servers",
  request: { params: Params },
  responses: { 200: jsonResponse(z.object({ data: z.array(McpServerSchema) }), "Servers") },
  permission: "read",
});
const getServer = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/mcp-servers/{serverId}",
  operationId: "mcpServers.get",
  tags,
  summary: "Get an MCP server",
  request: { params: ServerParams },
  responses: { 200: jsonResponse(McpServerSchema, "The server") },
  permission: "read",
});
const patchServer = orgRoute({
  method: "patch",
  path: "/v1/orgs/{orgId}/mcp-servers/{serverId}",
  operationId: "mcpServers.update",
  tags,
  summary: "Update an MCP server (headers, when given, replace the stored set; null clears it)",
  request: { params: ServerParams, body: jsonBody(UpdateBody) },
  responses: { 200: jsonResponse(McpServerSchema, "The server") },
  errors: { 409: "The org already has an MCP server with this name (`already_exists`)" },
  permission: "write",
});
const deleteServer = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/mcp-servers/{serverId}",
  operationId: "mcpServers.delete",
  tags,
  summary: "Remove an MCP server",
  request: { params: ServerParams },
  responses: { 204: { description: "Removed" } },
  permission: "write",
});
const testServer = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/mcp-servers/{serverId}/test",
  operationId: "mcpServers.test",
  tags,
  summary: "Connect to the server and list its tools",
  description: "Answers 200 either way: `ok` says whether the server answered, `error.message` why not.",
  request: { params: ServerParams },
  responses: { 200: jsonResponse(TestResult, "The outcome") },
  permission: "write",
});

function serialize(row: McpServersTable) {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    headers: JSON.parse(row.headers_masked) as Record<string, string>,
    enabled: row.enabled === 1,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

async function checkUrl(services: Services, url: string): Promise<void> {
  const problem = await outboundUrlProblem(url, { allowlist: services.config.fetchAllowlist });
  if (problem) throw errors.invalid(`Invalid url: ${problem}`, "url");
}

function checkHeaders(headers: Record<string, string>): void {
  for (const name of Object.keys(headers)) {
    if (!HEADER_NAME.test(name)) throw errors.invalid(`Invalid headers: "${name.slice(0, 100)}" is not a valid header name.`, `headers.${name.slice(0, 100)}`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw errors.invalid(`Invalid headers: ${name} is set by the MCP transport itself.`, `headers.${name}`);
  }
}

/** Encrypts the headers bound to the server's id; no headers means no secret and no key needed. */
async function sealHeaders(services: Services, id: string, headers: Record<string, string> | null | undefined) {
  if (!headers || Object.keys(headers).length === 0) return { headers_enc: null, headers_masked: "{}" };
  const key = services.config.secretKey;
  if (!key) throw errors.invalid(MISSING_SECRET_KEY_MESSAGE, "headers");
  const masked = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, maskSecret(value)]));
  return { headers_enc: await encryptSecret(key, JSON.stringify(headers), id), headers_masked: JSON.stringify(masked) };
}

const nameTaken = (name: string) => errors.conflict(`An MCP server named "${name}" already exists in this organization.`, "name", "already_exists");

/** MCP servers of an org: CRUD plus a connection test. Writes need write permission, reads read. */
export function mcpServerRoutes() {
  const app = createRouter();

  app.openapi(createServer, async (c) => {
    const { access, services } = c.var;
    const body = c.req.valid("json");
    if (body.headers) checkHeaders(body.headers);
    await checkUrl(services, body.url);
    const id = newId("mcp");
    const now = Date.now();
    const row: McpServersTable = {
      id,
      org_id: access.orgId,
      name: body.name,
      url: body.url,
      ...(await sealHeaders(services, id, body.headers)),
      enabled: body.enabled ? 1 : 0,
      created_at: now,
      updated_at: now,
    };
    try {
      await insertMcpServer(services.db.kysely, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw nameTaken(body.name);
      throw error;
    }
    return c.json(serialize(row), 201);
  });

  app.openapi(listServers, async (c) => {
    const { access, services } = c.var;
    const rows = await listMcpServers(services.db.kysely, access.orgId);
    return c.json({ data: rows.map(serialize) }, 200);
  });

  app.openapi(getServer, async (c) => {
    const { access, services } = c.var;
    const row = await findMcpServer(services.db.kysely, access.orgId, c.req.valid("param").serverId);
    if (!row) throw errors.notFound("MCP server", "serverId");
    return c.json(serialize(row), 200);
  });

  app.openapi(patchServer, async (c) => {
    const { access, services } = c.var;
    const { serverId } = c.req.valid("param");
    const body = c.req.valid("json");
    const existing = await findMcpServer(services.db.kysely, access.orgId, serverId);
    if (!existing) throw errors.notFound("MCP server", "serverId");
    if (body.headers) checkHeaders(body.headers);
    if (body.url !== undefined) await checkUrl(services, body.url);
    // Strictly increasing, so the tool-list cache (keyed by it) never serves the old version.
    const changes = {
      updated_at: Math.max(Date.now(), existing.updated_at + 1),
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.url !== undefined ? { url: body.url } : {}),
      ...(body.enabled !== undefined ? { enabled: body.enabled ? 1 : 0 } : {}),
      ...(body.headers !== undefined ? await sealHeaders(services, existing.id, body.headers) : {}),
    };
    try {
      if (!(await updateMcpServer(services.db.kysely, access.orgId, serverId, changes))) throw errors.notFound("MCP server", "serverId");
    } catch (error) {
      if (isUniqueViolation(error)) throw nameTaken(body.name ?? existing.name);
      throw error;
    }
    services.mcp.invalidate(serverId);
    return c.json(serialize({ ...existing, ...changes }), 200);
  });

  app.openapi(deleteServer, async (c) => {
    const { access, services } = c.var;
    const { serverId } = c.req.valid("param");
    if (!(await deleteMcpServer(services.db.kysely, access.orgId, serverId))) throw errors.notFound("MCP server", "serverId");
    services.mcp.invalidate(serverId);
    return c.body(null, 204);
  });

  app.openapi(testServer, async (c) => {
    const { access, services } = c.var;
    const row = await findMcpServer(services.db.kysely, access.orgId, c.req.valid("param").serverId);
    if (!row) throw errors.notFound("MCP server", "serverId");
    try {
      const tools = await services.mcp.listTools(row, { fresh: true, signal: c.req.raw.signal });
      return c.json({ ok: true, tools, error: null }, 200);
    } catch (error) {
      return c.json({ ok: false, tools: [], error: { message: describeMcpError(row.name, error) } }, 200);
    }
  });

  return app;
}
