import { z } from "@hono/zod-openapi";
import { isUniqueViolation } from "../../db";
import type { ChannelsTable } from "../../db/schema";
import { errors } from "../../http/errors";
import { OrgIdParam, PathId, createRouter, iso, jsonBody, jsonResponse } from "../../http/openapi";
import { newId, randomBase62 } from "../../lib/ids";
import { MISSING_SECRET_KEY_MESSAGE, encryptSecret, maskSecret } from "../../lib/secrets";
import type { ChannelConfig } from "../../runtime/tools/message";
import { outboundUrlProblem } from "../../runtime/tools/net/url-policy";
import type { Services } from "../../services";
import { deleteChannel, findChannel, insertChannel, listChannels } from "./repository";
import { orgRoute } from "../../http/routes";

const tags = ["Channels"];
const DEFAULT_TELEGRAM_API = "https://api.telegram.org";

const Name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { message: "Must be a slug: 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit." });
const Url = z.string().trim().min(1).max(2048);

const CreateBody = z
  .discriminatedUnion("type", [
    z.strictObject({ name: Name, type: z.literal("slack"), config: z.strictObject({ url: Url.openapi({ description: "Slack incoming-webhook URL" }) }) }),
    z.strictObject({ name: Name, type: z.literal("discord"), config: z.strictObject({ url: Url.openapi({ description: "Discord webhook URL" }) }) }),
    z.strictObject({
      name: Name,
      type: z.literal("telegram"),
      config: z.strictObject({
        botToken: z.string().regex(/^\d{1,20}:[A-Za-z0-9_-]{20,100}$/, { message: "Must be a bot token as BotFather gives it (123456:ABC...)." }),
        chatId: z.union([z.string().trim().min(1).max(64), z.number().int()]).transform(String),
        apiBase: Url.optional().openapi({ description: `Bot API base URL (default ${DEFAULT_TELEGRAM_API})` }),
      }),
    }),
    z.strictObject({
      name: Name,
      type: z.literal("webhook"),
      config: z.strictObject({
        url: Url,
        secret: z.string().min(16).max(256).optional().openapi({ description: "HMAC signing secret; generated (and shown once) when omitted" }),
      }),
    }),
  ])
  .openapi("CreateChannelRequest");

const ChannelSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    type: z.enum(["slack", "discord", "telegram", "webhook"]),
    config: z.record(z.string(), z.string()).openapi({ description: "The config with secret parts masked" }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Channel");

const TestResult = z
  .object({ ok: z.boolean(), status: z.number().nullable(), attempts: z.number(), error: z.object({ message: z.string() }).nullable() })
  .openapi("ChannelTestResult");

const Params = z.object({ orgId: OrgIdParam });
const ChannelParams = Params.extend({ channelId: PathId("channelId") });

const createChannel = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/channels",
  operationId: "channels.create",
  tags,
  summary: "Add a channel the message tool can post to",
  request: { params: Params, body: jsonBody(CreateBody) },
  responses: { 201: jsonResponse(ChannelSchema, "The channel") },
  errors: { 409: "The org already has a channel with this name (`already_exists`)" },
  permission: "write",
});
const listRoute = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/channels",
  operationId: "channels.list",
  tags,
  summary: "List the org's channels (secrets masked)",
  request: { params: Params },
  responses: { 200: jsonResponse(z.object({ data: z.array(ChannelSchema) }), "Channels") },
  permission: "read",
});
const deleteRoute = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/channels/{channelId}",
  operationId: "channels.delete",
  tags,
  summary: "Remove a channel",
  request: { params: ChannelParams },
  responses: { 204: { description: "Removed" } },
  permission: "write",
});
const testRoute = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/channels/{channelId}/test",
  operationId: "channels.test",
  tags,
  summary: "Send a test message to the channel",
  description: "Answers 200 either way: `ok` says whether the platform accepted the message, `error.message` why not.",
  request: { params: ChannelParams },
  responses: { 200: jsonResponse(TestResult, "The outcome") },
  permission: "write",
});

/** An URL shown without its secret part: the origin, then the last four characters. */
function maskUrl(raw: string): string {
  try {
    return `${new URL(raw).origin}/${maskSecret(raw)}`;
  } catch {
    return maskSecret(raw);
  }
}

function masked(config: ChannelConfig): Record<string, string> {
  switch (config.type) {
    case "slack":
    case "discord":
      return { url: maskUrl(config.url) };
    case "telegram":
      return { botToken: maskSecret(config.botToken), chatId: config.chatId, apiBase: config.apiBase };
    case "webhook":
      return { url: maskUrl(config.url), secret: maskSecret(config.secret) };
  }
}

function serialize(row: ChannelsTable, config?: Record<string, string>) {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    config: config ?? (JSON.parse(row.config_masked) as Record<string, string>),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

async function checkUrl(services: Services, url: string, param: string): Promise<void> {
  const problem = await outboundUrlProblem(url, { allowlist: services.config.fetchAllowlist });
  if (problem) throw errors.invalid(`Invalid ${param}: ${problem}`, param);
}

/** Channels of an org (the message tool's destinations). Writes need write permission, reads read. */
export function channelRoutes() {
  const app = createRouter();

  app.openapi(createChannel, async (c) => {
    const { access, services } = c.var;
    const body = c.req.valid("json");
    const key = services.config.secretKey;
    if (!key) throw errors.invalid(MISSING_SECRET_KEY_MESSAGE, "config");
    let config: ChannelConfig;
    let generatedSecret: string | null = null;
    if (body.type === "telegram") {
      const apiBase = body.config.apiBase ?? DEFAULT_TELEGRAM_API;
      if (body.config.apiBase !== undefined) await checkUrl(services, apiBase, "config.apiBase");
      config = { type: "telegram", botToken: body.config.botToken, chatId: body.config.chatId, apiBase };
    } else {
      await checkUrl(services, body.config.url, "config.url");
      if (body.type === "webhook") {
        generatedSecret = body.config.secret ? null : `whsec_${randomBase62(32)}`;
        config = { type: "webhook", url: body.config.url, secret: body.config.secret ?? (generatedSecret as string) };
      } else config = { type: body.type, url: body.config.url };
    }
    const id = newId("ch");
    const now = Date.now();
    const row: ChannelsTable = {
      id,
      org_id: access.orgId,
      name: body.name,
      type: body.type,
      config_enc: await encryptSecret(key, JSON.stringify(config), id),
      config_masked: JSON.stringify(masked(config)),
      created_at: now,
      updated_at: now,
    };
    try {
      await insertChannel(services.db.kysely, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw errors.conflict(`A channel named "${body.name}" already exists in this organization.`, "name", "already_exists");
      throw error;
    }
    // A generated signing secret is the one secret shown, once, like an API key.
    const shown = generatedSecret ? { ...masked(config), secret: generatedSecret } : undefined;
    if (shown) c.header("Cache-Control", "no-store");
    return c.json(serialize(row, shown), 201);
  });

  app.openapi(listRoute, async (c) => {
    const { access, services } = c.var;
    const rows = await listChannels(services.db.kysely, access.orgId);
    return c.json({ data: rows.map((row) => serialize(row)) }, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const { access, services } = c.var;
    if (!(await deleteChannel(services.db.kysely, access.orgId, c.req.valid("param").channelId))) throw errors.notFound("Channel", "channelId");
    return c.body(null, 204);
  });

  app.openapi(testRoute, async (c) => {
    const { access, services } = c.var;
    const row = await findChannel(services.db.kysely, access.orgId, c.req.valid("param").channelId);
    if (!row) throw errors.notFound("Channel", "channelId");
    try {
      const target = await services.channels.target(row);
      const text = `OpenPaw test message: channel "${row.name}" is connected.`;
      const sent = await services.channels.sender.send(target, text, { orgId: access.orgId }, c.req.raw.signal);
      return c.json({ ok: true, status: sent.status, attempts: sent.attempts, error: null }, 200);
    } catch (error) {
      return c.json({ ok: false, status: null, attempts: 0, error: { message: (error as Error).message } }, 200);
    }
  });

  return app;
}
