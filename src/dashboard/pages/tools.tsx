import { type ApiApp, type ApiResult, callApi } from "../api";
import { type Dashboard, apiFailure, done, failed, orgPage } from "../page";
import { ConfirmButton, Layout, fmt } from "../ui";

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
  createdAt: string;
}

/** A list the API refused (e.g. a plan without the feature) is explained, not hidden. */
const refusal = (r: ApiResult) => (r.ok ? null : <p class="note">{r.error?.message}</p>);

/**
 * MCP servers and message channels: listed and removable here; they are added through the API
 * (its docs show the bodies), since their configs carry secrets this page does not handle yet.
 */
export function registerToolPages(app: Dashboard, api: ApiApp) {
  app.get(
    "/orgs/:orgId/tools",
    orgPage(api, async (c, view) => {
      const base = `/orgs/${view.org.id}`;
      const [servers, channels] = await Promise.all([callApi(api, c, "GET", `/v1${base}/mcp-servers`), callApi(api, c, "GET", `/v1${base}/channels`)]);
      for (const r of [servers, channels]) if (r.status === 401) return apiFailure(c, view, r) as Response;
      const canWrite = view.can("write");
      return c.html(
        <Layout view={view} title="Tools" active="Tools">
          <p class="muted">
            Add MCP servers and channels with the API (<a href="/docs">API docs</a>); agents use them through the <code>mcp_call</code> and{" "}
            <code>message</code> tools.
          </p>
          <h2>MCP servers</h2>
          {refusal(servers)}
          {servers.ok && servers.body.data.length === 0 ? <p class="empty">No MCP servers.</p> : null}
          <ul class="list">
            {((servers.ok ? servers.body.data : []) as McpServer[]).map((s) => (
              <li>
                <strong>{s.name}</strong> <code>{s.url}</code> <span class="badge">{s.enabled ? "enabled" : "disabled"}</span>
                <span class="muted small">added {fmt.date(s.createdAt)}</span>
                {canWrite ? <ConfirmButton action={`${base}/tools/mcp/${s.id}/delete`} label="Remove" confirm={`Remove ${s.name}?`} /> : null}
              </li>
            ))}
          </ul>
          <h2>Message channels</h2>
          {refusal(channels)}
          {channels.ok && channels.body.data.length === 0 ? <p class="empty">No channels.</p> : null}
          <ul class="list">
            {((channels.ok ? channels.body.data : []) as Channel[]).map((ch) => (
              <li>
                <strong>{ch.name}</strong> <span class="badge">{ch.type}</span>
                <span class="muted small">added {fmt.date(ch.createdAt)}</span>
                {canWrite ? <ConfirmButton action={`${base}/tools/channels/${ch.id}/delete`} label="Remove" confirm={`Remove ${ch.name}?`} /> : null}
              </li>
            ))}
          </ul>
        </Layout>,
      );
    }),
  );

  for (const [kind, apiPath] of [
    ["mcp", "mcp-servers"],
    ["channels", "channels"],
  ] as const) {
    app.post(
      `/orgs/:orgId/tools/${kind}/:id/delete`,
      orgPage(api, async (c, view) => {
        const page = `/orgs/${view.org.id}/tools`;
        const result = await callApi(api, c, "DELETE", `/v1/orgs/${view.org.id}/${apiPath}/${encodeURIComponent(c.req.param("id") ?? "")}`);
        if (!result.ok) return apiFailure(c, view, result) ?? failed(c, page, result);
        return done(c, page, "Removed.");
      }),
    );
  }
}
