/**
 * Local stand-ins for the chat platforms the message tool posts to, speaking their wire formats:
 * Slack incoming webhooks (`POST /slack/...` → 200 "ok"), Discord webhooks (`POST /discord/...`
 * → 204), the Telegram Bot API (`POST /bot<token>/sendMessage` → `{"ok":true,...}`) and a
 * generic webhook receiver (`POST /webhook/...` → 200). `failNext(status)` makes the next
 * requests fail with that status, for retry tests.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface ChannelRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: any;
}

export interface FakeChannels {
  url: string;
  port: number;
  requests: ChannelRequest[];
  /** Answer the next requests with these statuses (then succeed again). */
  failNext(...statuses: number[]): void;
  close(): Promise<void>;
}

export async function startFakeChannels(): Promise<FakeChannels> {
  const requests: ChannelRequest[] = [];
  const failures: number[] = [];
  const http = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: any = null;
    try {
      body = JSON.parse(raw);
    } catch {
      body = null;
    }
    const path = (req.url ?? "/").split("?")[0];
    requests.push({ path, headers: { ...req.headers }, raw, body });
    const failure = failures.shift();
    if (failure) {
      res.writeHead(failure, { "content-type": "application/json" }).end(JSON.stringify({ message: "fake failure" }));
      return;
    }
    if (path.startsWith("/slack/")) return void res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    if (path.startsWith("/discord/")) return void res.writeHead(204).end();
    const telegram = path.match(/^\/bot([^/]+)\/sendMessage$/);
    if (telegram) {
      if (!telegram[1].includes(":")) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ ok: false, error_code: 404, description: "Not Found" }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, result: { message_id: requests.length, chat: { id: body?.chat_id }, text: body?.text } }));
      return;
    }
    if (path.startsWith("/webhook/")) return void res.writeHead(200, { "content-type": "application/json" }).end("{}");
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    failNext: (...statuses) => failures.push(...statuses),
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
