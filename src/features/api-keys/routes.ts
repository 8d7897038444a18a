import { z } from "@hono/zod-openapi";
import type { Kysely } from "kysely";
import type { ApiKeysTable, Database } from "../../db/schema";
import type { Scope } from "../../http/context";
import { ApiError, errors } from "../../http/errors";
import { createRouter, iso, jsonBody, jsonResponse, OrgIdParam, PathId } from "../../http/openapi";
import { permissionsOfScopes } from "../../http/permissions";
import { newId } from "../../lib/ids";
import { existingAgentIds } from "../agents/repository";
import { generateApiKey, sha256Hex } from "./key-format";
import { insertApiKey, listApiKeys, revokeApiKey } from "./repository";
import { orgRoute } from "../../http/routes";

const tags = ["API keys"];
const ScopeEnum = z.enum(["chat", "read", "write", "admin"]);

const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    prefix: z.string().openapi({ description: "The first 12 characters of the key" }),
    last4: z.string(),
    scopes: z.array(ScopeEnum),
    agentIds: z.array(z.string()).nullable(),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
  })
  .openapi("ApiKey");

const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().openapi({ description: "The full key. Shown once, never again." }),
}).openapi("CreatedApiKey");

const CreateApiKeyBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    scopes: z.array(ScopeEnum).min(1).max(4).default(["chat"]),
    agentIds: z.array(z.string().min(1).max(64)).min(1).max(100).optional(),
    expiresAt: z.iso.datetime({ offset: true }).optional(),
  })
  .openapi("CreateApiKeyRequest");

const Params = z.object({ orgId: OrgIdParam });

const createKey = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/api-keys",
  operationId: "apiKeys.create",
  tags,
  summary: "Create an API key (the full key is returned once)",
  request: { params: Params, body: jsonBody(CreateApiKeyBody) },
  responses: { 201: jsonResponse(CreatedApiKeySchema, "The key, with its secret") },
  permission: "admin",
});

const listKeys = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/api-keys",
  operationId: "apiKeys.list",
  tags,
  summary: "List API keys (prefix and last 4 only)",
  request: { params: Params },
  responses: { 200: jsonResponse(z.object({ data: z.array(ApiKeySchema) }), "Keys") },
  permission: "read",
});

const revokeKey = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/api-keys/{keyId}",
  operationId: "apiKeys.revoke",
  tags,
  summary: "Revoke an API key",
  request: {
    params: Params.extend({
      keyId: PathId("keyId", "key_4f9Kq2"),
    }),
  },
  responses: { 204: { description: "Revoked" } },
  permission: "admin",
});

/** Every id of `agentIds` must be an agent of the org: 400 naming the first that is not (never saying whose it is). */
async function requireOwnAgents(db: Kysely<Database>, orgId: string, agentIds: readonly string[]): Promise<void> {
  const found = await existingAgentIds(db, orgId, agentIds);
  const index = agentIds.findIndex((id) => !found.has(id));
  if (index >= 0) throw errors.invalid(`No agent ${agentIds[index]} in this organization.`, `agentIds.${index}`);
}

function serializeKey(k: ApiKeysTable, lastUsedAt: number | null) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    last4: k.last4,
    scopes: JSON.parse(k.scopes) as Scope[],
    agentIds: k.agent_ids ? (JSON.parse(k.agent_ids) as string[]) : null,
    createdAt: iso(k.created_at),
    expiresAt: iso(k.expires_at),
    lastUsedAt: iso(lastUsedAt),
  };
}

/** API keys: create (shown once), list, revoke. */
export function apiKeyRoutes() {
  const app = createRouter();

  app.openapi(createKey, async (c) => {
    const { access } = c.var;
    const body = c.req.valid("json");
    const now = Date.now();
    const parent = access.principal.kind === "key" ? access.principal : null;
    // A key never outlives the key that minted it: without expiresAt it inherits the parent's.
    const expiresAt = body.expiresAt ? Date.parse(body.expiresAt) : (parent?.expiresAt ?? null);
    if (expiresAt !== null && expiresAt <= now) throw errors.invalid("expiresAt must be in the future.", "expiresAt");
    if (parent?.expiresAt != null && expiresAt !== null && expiresAt > parent.expiresAt) {
      throw new ApiError("permission_error", "A key cannot create a key that expires after itself.", { param: "expiresAt" });
    }
    // A key may not be given more than its creator may do: a write key cannot mint an admin key.
    const scopes = [...new Set(body.scopes)];
    if ([...permissionsOfScopes(scopes)].some((p) => !access.permissions.has(p))) {
      throw errors.forbidden("A key cannot create a key allowed to do more than itself.");
    }
    // (A key restricted to some agents never gets here: keys are org-wide, see requireAgentScopedRoute.)
    const agentIds = body.agentIds ? [...new Set(body.agentIds)] : null;
    if (body.agentIds) await requireOwnAgents(c.var.services.db.kysely, access.orgId, body.agentIds);
    const secret = generateApiKey();
    const record: ApiKeysTable = {
      id: newId("key"),
      org_id: access.orgId,
      name: body.name ?? null,
      prefix: secret.slice(0, 12),
      last4: secret.slice(-4),
      key_hash: await sha256Hex(secret),
      scopes: JSON.stringify(scopes),
      agent_ids: agentIds ? JSON.stringify(agentIds) : null,
      created_by: access.principal.kind === "user" ? access.principal.userId : access.principal.keyId,
      created_at: now,
      expires_at: expiresAt,
      last_used_at: null,
      revoked_at: null,
    };
    await insertApiKey(c.var.services.db.kysely, record);
    c.header("Cache-Control", "no-store");
    return c.json({ ...serializeKey(record, null), key: secret }, 201);
  });

  app.openapi(listKeys, async (c) => {
    const { access, services } = c.var;
    const keys = await listApiKeys(services.db.kysely, access.orgId);
    return c.json({ data: keys.map((k) => serializeKey(k, services.apiKeys.lastUsedAt(k.id) ?? k.last_used_at)) }, 200);
  });

  app.openapi(revokeKey, async (c) => {
    const { access, services } = c.var;
    const { keyId } = c.req.valid("param");
    if (!(await revokeApiKey(services.db.kysely, access.orgId, keyId, Date.now()))) throw errors.notFound("API key", "keyId");
    services.apiKeys.invalidate({ keyId });
    return c.body(null, 204);
  });

  return app;
}
