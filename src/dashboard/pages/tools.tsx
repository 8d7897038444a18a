import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { type ApiApp, type ApiResult, callApi } from "../api";
import type { OrgView } from "../context";
import { type Dashboard, apiFailure, done, failed, field, orgPage } from "../page";
import { ConfirmButton, CopyButton, ErrorNote, Layout, fmt } from "../ui";

interface McpServer {
  id: string;
  name: string;
  url: string;
  enabled: boolean;
  createdAt: string;
}
interface Channel {
  id: string;
  name: string;
  type: string;
  config: Record<string, string>;
  createdAt: string;
}

const CHANNEL_TYPES = [
  ["slack", "Slack (incoming webhook)"],
  ["discord", "Discord (webhook)"],
  ["telegram", "Telegram (bot)"],
  ["webhook", "Webhook (signed HTTP POST)"],
] as const;

/** The one-time message rides in a cookie: long tool lists and errors are cut short. */
const clip = (text: string, max = 600) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A list the API refused (e.g. a plan without the feature) is explained, not hidden. */
const refusal = (r: ApiResult) => (r.ok ? null : <p class="note">{r.error?.message}</p>);

/** `Name: value` lines as a header record; a line without a name and a colon is an error. */
function parseHeaders(text: string): Record<string, string> | string {
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).trim() : "";
    if (!name) return `Headers: each line must be "Name: value" (got "${clip(line.trim(), 60)}").`;
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The create body of a channel type: only that type's fields, empty optional ones left out. */
function channelBody(form: Record<string, unknown>): Record<string, unknown> {
  const type = field(form, "type");
  const name = field(form, "name").trim();
  if (type === "telegram") return { name, type, config: { botToken: field(form, "botToken").trim(), chatId: field(form, "chatId").trim() } };
  const config: Record<string, string> = { url: field(form, "url").trim() };
  const secret = field(form, "secret");
  if (type === "webhook" && secret) config.secret = secret;
  return { name, type, config };
}

type RenderOptions = { created?: Channel; error?: string; errorAt?: "mcp" | "channel"; status?: number };

/**
 * MCP servers and message channels: add, test, enable or disable (MCP), remove. Secrets (headers,
 * webhook URLs, bot tokens) go to the API and are never shown back, except a webhook signing
 * secret the API generates: rendered once in the creating response, never redirected with.
 */
export function registerToolPages(app: Dashboard, api: ApiApp) {
  const render = async (c: Context<AppEnv>, view: OrgView, options: RenderOptions = {}) => {
    const base = `/orgs/${view.org.id}`;
    const [servers, channels] = await Promise.all([callApi(api, c, "GET", `/v1${base}/mcp-servers`), callApi(api, c, "GET", `/v1${base}/channels`)]);
    for (const r of [servers, channels]) if (r.status === 401) return apiFailure(c, view, r) as Response;
    const canWrite = view.can("write");
    const created = options.created;
    return c.html(
      <Layout view={view} title="Tools" active="Tools">
        <p class="muted">
          Agents use MCP servers through the <code>mcp_call</code> tool and message channels through the <code>message</code> tool. Secrets you enter
          here are stored encrypted and never shown again.
        </p>
        {created?.config.secret ? (
          <div class="note created-key" role="alert">
            <h2>Signing secret of {created.name}</h2>
            <p>
              <strong>Copy it now: it is shown once and cannot be retrieved again.</strong> Use it to verify the signature of the webhook's requests.
            </p>
            <p class="keybox">
              <code id="new-secret">{created.config.secret}</code> <CopyButton value={created.config.secret} />
            </p>
          </div>
        ) : null}
        <h2>MCP servers</h2>
        {refusal(servers)}
        {servers.ok && servers.body.data.length === 0 ? <p class="empty">No MCP servers.</p> : null}
        <ul class="list">
          {((servers.ok ? servers.body.data : []) as McpServer[]).map((s) => (
            <li>
              <strong>{s.name}</strong> <code>{s.url}</code> <span class="badge">{s.enabled ? "enabled" : "disabled"}</span>
              <span class="muted small">added {fmt.date(s.createdAt)}</span>
              {canWrite ? (
                <>
                  <form method="post" action={`${base}/tools/mcp/${s.id}/test`} class="inline">
                    <button type="submit" class="secondary" aria-label={`Test ${s.name}`}>
                      Test
                    </button>
                  </form>
                  <form method="post" action={`${base}/tools/mcp/${s.id}/enabled`} class="inline">
                    <input type="hidden" name="enabled" value={s.enabled ? "false" : "true"} />
                    <button type="submit" class="secondary" aria-label={`${s.enabled ? "Disable" : "Enable"} ${s.name}`}>
                      {s.enabled ? "Disable" : "Enable"}
                    </button>
                  </form>
                  <ConfirmButton action={`${base}/tools/mcp/${s.id}/delete`} label="Remove" confirm={`Remove ${s.name}?`} />
                </>
              ) : null}
            </li>
          ))}
        </ul>
        {canWrite && servers.ok ? (
          <>
            <h3>Add an MCP server</h3>
            {options.errorAt === "mcp" ? <ErrorNote error={options.error} /> : null}
            <form method="post" action={`${base}/tools/mcp`} class="stack narrow">
              <label>
                Name <span class="muted small">(lower-case letters, digits, - or _)</span>
                <input type="text" name="name" required maxlength={32} pattern="[a-z0-9][a-z0-9_\-]{0,31}" placeholder="e.g. github" />
              </label>
              <label>
                URL
                <input type="url" name="url" required maxlength={2048} placeholder="https://mcp.example.com/mcp" />
              </label>
              <label>
                Headers <span class="muted small">(optional, one <code>Name: value</code> per line, e.g. an Authorization header)</span>
                <textarea name="headers" rows={3} autocomplete="off" spellcheck={false} />
              </label>
              <label class="check">
                <input type="checkbox" name="enabled" value="true" checked /> Enabled
              </label>
              <button type="submit" class="primary">
                Add MCP server
              </button>
            </form>
          </>
        ) : null}
        <h2>Message channels</h2>
        {refusal(channels)}
        {channels.ok && channels.body.data.length === 0 ? <p class="empty">No channels.</p> : null}
        <ul class="list">
          {((channels.ok ? channels.body.data : []) as Channel[]).map((ch) => (
            <li>
              <strong>{ch.name}</strong> <span class="badge">{ch.type}</span>
              <span class="muted small">added {fmt.date(ch.createdAt)}</span>
              {canWrite ? (
                <>
                  <form method="post" action={`${base}/tools/channels/${ch.id}/test`} class="inline">
                    <button type="submit" class="secondary" aria-label={`Send a test message to ${ch.name}`}>
                      Send test
                    </button>
                  </form>
                  <ConfirmButton action={`${base}/tools/channels/${ch.id}/delete`} label="Remove" confirm={`Remove ${ch.name}?`} />
                </>
              ) : null}
            </li>
          ))}
        </ul>
        {canWrite && channels.ok ? (
          <>
            <h3>Add a channel</h3>
            {options.errorAt === "channel" ? <ErrorNote error={options.error} /> : null}
            <form method="post" action={`${base}/tools/channels`} class="stack narrow">
              <label>
                Name <span class="muted small">(lower-case letters, digits, - or _)</span>
                <input type="text" name="name" required maxlength={64} pattern="[a-z0-9][a-z0-9_\-]{0,63}" placeholder="e.g. team-slack" />
              </label>
              <label>
                Type
                <select name="type" required>
                  {CHANNEL_TYPES.map(([value, label]) => (
                    <option value={value}>{label}</option>
                  ))}
                </select>
              </label>
              <label>
                URL <span class="muted small">(Slack, Discord and webhook)</span>
                <input type="url" name="url" maxlength={2048} autocomplete="off" />
              </label>
              <label>
                Bot token <span class="muted small">(Telegram)</span>
                <input type="password" name="botToken" maxlength={130} autocomplete="off" />
              </label>
              <label>
                Chat ID <span class="muted small">(Telegram)</span>
                <input type="text" name="chatId" maxlength={64} autocomplete="off" />
              </label>
              <label>
                Signing secret <span class="muted small">(webhook, optional: at least 16 characters; generated and shown once when empty)</span>
                <input type="password" name="secret" minlength={16} maxlength={256} autocomplete="new-password" />
              </label>
              <button type="submit" class="primary">
                Add channel
              </button>
            </form>
          </>
        ) : null}
      </Layout>,
      (options.status ?? 200) as 200,
    );
  };

  const pageOf = (view: OrgView) => `/orgs/${view.org.id}/tools`;
  const idOf = (c: Context<AppEnv>) => encodeURIComponent(c.req.param("id") ?? "");

  app.get("/orgs/:orgId/tools", orgPage(api, (c, view) => render(c, view)));

  app.post(
    "/orgs/:orgId/tools/mcp",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody();
      const headers = parseHeaders(field(form, "headers"));
      if (typeof headers === "string") return render(c, view, { error: headers, errorAt: "mcp", status: 400 });
      const body: Record<string, unknown> = { name: field(form, "name").trim(), url: field(form, "url").trim(), enabled: field(form, "enabled") === "true" };
      if (Object.keys(headers).length) body.headers = headers;
      const result = await callApi(api, c, "POST", `/v1/orgs/${view.org.id}/mcp-servers`, { body });
      if (!result.ok) return apiFailure(c, view, result) ?? render(c, view, { error: result.error?.message, errorAt: "mcp", status: result.status });
      return done(c, pageOf(view), `MCP server ${result.body.name} added.`);
    }),
  );
  app.post(
    "/orgs/:orgId/tools/mcp/:id/test",
    orgPage(api, async (c, view) => {
      const result = await callApi(api, c, "POST", `/v1/orgs/${view.org.id}/mcp-servers/${idOf(c)}/test`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, pageOf(view), result);
      if (!result.body.ok) return failed(c, pageOf(view), { ...result, error: { message: clip(result.body.error?.message ?? "The server did not answer.") } });
      const names = (result.body.tools as Array<{ name: string }>).map((t) => t.name);
      return done(c, pageOf(view), clip(names.length ? `Connected: ${names.length} tools (${names.join(", ")}).` : "Connected, but the server offers no tools."));
    }),
  );
  app.post(
    "/orgs/:orgId/tools/mcp/:id/enabled",
    orgPage(api, async (c, view) => {
      const enabled = field(await c.req.parseBody(), "enabled") === "true";
      const result = await callApi(api, c, "PATCH", `/v1/orgs/${view.org.id}/mcp-servers/${idOf(c)}`, { body: { enabled } });
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, pageOf(view), result);
      return done(c, pageOf(view), `${result.body.name} ${enabled ? "enabled" : "disabled"}.`);
    }),
  );

  app.post(
    "/orgs/:orgId/tools/channels",
    orgPage(api, async (c, view) => {
      const result = await callApi(api, c, "POST", `/v1/orgs/${view.org.id}/channels`, { body: channelBody(await c.req.parseBody()) });
      if (!result.ok) return apiFailure(c, view, result) ?? render(c, view, { error: result.error?.message, errorAt: "channel", status: result.status });
      // A generated signing secret is rendered in this response, never redirected with (no URL, no cookie).
      if ((result.body as Channel).config?.secret && !(result.body as Channel).config.secret.includes("•")) {
        return render(c, view, { created: result.body, status: 201 });
      }
      return done(c, pageOf(view), `Channel ${result.body.name} added.`);
    }),
  );
  app.post(
    "/orgs/:orgId/tools/channels/:id/test",
    orgPage(api, async (c, view) => {
      const result = await callApi(api, c, "POST", `/v1/orgs/${view.org.id}/channels/${idOf(c)}/test`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, pageOf(view), result);
      if (!result.body.ok) return failed(c, pageOf(view), { ...result, error: { message: clip(result.body.error?.message ?? "The message was not delivered.") } });
      return done(c, pageOf(view), "Test message sent.");
    }),
  );

  for (const [kind, apiPath] of [
    ["mcp", "mcp-servers"],
    ["channels", "channels"],
  ] as const) {
    app.post(
      `/orgs/:orgId/tools/${kind}/:id/delete`,
      orgPage(api, async (c, view) => {
        const result = await callApi(api, c, "DELETE", `/v1/orgs/${view.org.id}/${apiPath}/${idOf(c)}`);
        if (!result.ok) return apiFailure(c, view, result) ?? failed(c, pageOf(view), result);
        return done(c, pageOf(view), "Removed.");
      }),
    );
  }
}
