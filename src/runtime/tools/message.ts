/**
 * The `message` tool: post text to one of the org's channels (Slack or Discord incoming webhook,
 * Telegram bot, or a generic webhook signed like Stripe's). Every post goes through the guarded
 * fetcher, is retried on 429/5xx with backoff, and is rate limited per channel in this process.
 */
import { z } from "zod";
import { newId } from "../../lib/ids";
import { FetchLimitError, FetchRefusedError, type GuardedFetcher } from "./net/guarded-fetch";
import type { ToolDefinition, ToolOutput } from "./types";

export type ChannelConfig =
  | { type: "slack"; url: string }
  | { type: "discord"; url: string }
  | { type: "telegram"; botToken: string; chatId: string; apiBase: string }
  | { type: "webhook"; url: string; secret: string };

/** A channel with its decrypted config (in memory only). */
export interface ChannelTarget {
  id: string;
  name: string;
  config: ChannelConfig;
}

/** Who posts, for the generic webhook's payload. */
export interface MessageOrigin {
  orgId: string;
  agentId?: string;
  runId?: string;
}

export interface ChannelSenderOptions {
  fetcher: Pick<GuardedFetcher, "request">;
  /** Posts per channel per minute (default 30). */
  perMinute?: number;
  /** Retries after the first attempt on 429/5xx/network errors (default 2). */
  retries?: number;
  /** First backoff delay in ms, doubled each retry (default 500). */
  baseDelayMs?: number;
}

/** A post that did not go through; the message is safe to show (never contains a token or URL). */
export class ChannelError extends Error {
  override name = "ChannelError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ChannelSender {
  send(target: ChannelTarget, text: string, origin: MessageOrigin, signal?: AbortSignal): Promise<{ status: number; attempts: number }>;
}

const TEXT_LIMITS: Record<ChannelConfig["type"], number> = { slack: 40_000, discord: 2_000, telegram: 4_096, webhook: 100_000 };
const MAX_RETRY_AFTER_MS = 10_000;

function clip(text: string, limit: number): string {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

/** `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, as Stripe signs its webhooks. */
export async function signWebhook(secret: string, body: string, unixSeconds: number): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${unixSeconds}.${body}`));
  return `t=${unixSeconds},v1=${Buffer.from(mac).toString("hex")}`;
}

/** The request a platform expects for one message. */
async function buildRequest(target: ChannelTarget, text: string, origin: MessageOrigin): Promise<{ url: string; headers: Record<string, string>; body: string }> {
  const config = target.config;
  const json = { "content-type": "application/json" };
  const body = clip(text, TEXT_LIMITS[config.type]);
  switch (config.type) {
    case "slack":
      return { url: config.url, headers: json, body: JSON.stringify({ text: body }) };
    case "discord":
      // Mentions in model output must not ping @everyone.
      return { url: config.url, headers: json, body: JSON.stringify({ content: body, allowed_mentions: { parse: [] } }) };
    case "telegram":
      return {
        url: `${config.apiBase.replace(/\/+$/, "")}/bot${config.botToken}/sendMessage`,
        headers: json,
        body: JSON.stringify({ chat_id: config.chatId, text: body }),
      };
    case "webhook": {
      const payload = JSON.stringify({
        id: newId("evt"),
        type: "message",
        channel: target.name,
        text: body,
        orgId: origin.orgId,
        agentId: origin.agentId ?? null,
        runId: origin.runId ?? null,
        createdAt: new Date().toISOString(),
      });
      const signature = await signWebhook(config.secret, payload, Math.floor(Date.now() / 1000));
      return { url: config.url, headers: { ...json, "x-openpaw-signature": signature }, body: payload };
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ChannelError("cancelled"));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new ChannelError("cancelled"));
      },
      { once: true },
    );
  });
}

/** Why the platform refused, from its error body, without echoing anything secret. */
function platformError(type: ChannelConfig["type"], status: number, body: Uint8Array): string {
  const text = new TextDecoder().decode(body.subarray(0, 2000));
  let detail = "";
  try {
    const parsed = JSON.parse(text);
    detail = parsed?.description ?? parsed?.message ?? parsed?.error ?? "";
  } catch {
    detail = text;
  }
  detail = String(detail).replace(/\s+/g, " ").trim().slice(0, 200);
  return `${type} answered HTTP ${status}${detail ? `: ${detail}` : ""}`;
}

/** Builds the sender shared by the message tool and the channel test endpoint. */
export function createChannelSender(options: ChannelSenderOptions): ChannelSender {
  const perMinute = options.perMinute ?? 30;
  const retries = options.retries ?? 2;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const recent = new Map<string, number[]>();

  /** Sliding one-minute window per channel; in process, so each replica allows its own share. */
  const take = (channelId: string): boolean => {
    const now = Date.now();
    const stamps = (recent.get(channelId) ?? []).filter((t) => t > now - 60_000);
    if (stamps.length >= perMinute) {
      recent.set(channelId, stamps);
      return false;
    }
    stamps.push(now);
    recent.set(channelId, stamps);
    if (recent.size > 10_000) for (const [id, s] of recent) if (s.every((t) => t <= now - 60_000)) recent.delete(id);
    return true;
  };

  return {
    async send(target, text, origin, signal) {
      if (!take(target.id)) throw new ChannelError(`Channel "${target.name}" is rate limited (${perMinute} messages a minute); try again later.`, 429);
      let lastError = "";
      for (let attempt = 1; attempt <= retries + 1; attempt++) {
        const request = await buildRequest(target, text, origin);
        let retryAfterMs: number | null = null;
        try {
          const response = await options.fetcher.request(request.url, { method: "POST", headers: request.headers, body: request.body, signal, onOversize: "truncate" });
          if (response.status >= 200 && response.status < 300) {
            if (target.config.type === "telegram" && !new TextDecoder().decode(response.body).includes('"ok":true')) {
              throw new ChannelError(platformError("telegram", response.status, response.body), response.status);
            }
            return { status: response.status, attempts: attempt };
          }
          lastError = platformError(target.config.type, response.status, response.body);
          if (response.status !== 429 && response.status < 500) throw new ChannelError(lastError, response.status);
          const header = Number(response.headers.get("retry-after"));
          if (Number.isFinite(header) && header > 0) retryAfterMs = Math.min(header * 1000, MAX_RETRY_AFTER_MS);
        } catch (error) {
          if (error instanceof ChannelError) throw error;
          if (signal?.aborted) throw new ChannelError("cancelled");
          // Policy refusals and size limits will not change on a retry.
          if (error instanceof FetchRefusedError || error instanceof FetchLimitError) throw new ChannelError(error.message);
          lastError = (error as Error).message ?? String(error);
        }
        if (attempt <= retries) await sleep(retryAfterMs ?? baseDelayMs * 2 ** (attempt - 1), signal);
      }
      throw new ChannelError(`Gave up after ${retries + 1} attempts: ${lastError}`);
    },
  };
}

const messageInput = z.object({
  channel: z.string().min(1).max(64).describe("The name of one of the organization's channels."),
  text: z.string().min(1).max(40_000).describe("The message to post."),
});

/** The `message` tool (free tier). `resolve` finds the org's channel by name, decrypted. */
export function createMessageTool(options: {
  sender: ChannelSender;
  resolve(orgId: string, name: string): Promise<ChannelTarget | null>;
  timeoutMs?: number;
}): ToolDefinition<z.infer<typeof messageInput>> {
  return {
    name: "message",
    description:
      "Post a message to one of the organization's chat channels (Slack, Discord, Telegram or a webhook) by the channel's name. " +
      "Use it to notify people; it cannot read replies.",
    tier: "free",
    input: messageInput,
    timeoutMs: options.timeoutMs ?? 30_000,
    async execute(input, context): Promise<ToolOutput> {
      const target = await options.resolve(context.orgId, input.channel);
      if (!target) return { content: `No channel named "${input.channel}" in this organization.`, isError: true };
      try {
        await options.sender.send(target, input.text, { orgId: context.orgId, agentId: context.agentId, runId: context.runId }, context.signal);
        return { content: `Posted to channel "${target.name}" (${target.config.type}).` };
      } catch (error) {
        return { content: `Could not post to channel "${target.name}": ${(error as Error).message}`, isError: true };
      }
    },
  };
}
