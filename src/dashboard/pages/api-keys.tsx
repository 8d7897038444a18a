import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { type ApiApp, callApi } from "../api";
import type { OrgView } from "../context";
import { type Dashboard, apiErrorPage, apiFailure, done, failed, field, fields, orgPage } from "../page";
import { ConfirmButton, CopyButton, ErrorNote, Layout, fmt } from "../ui";

interface ApiKey {
  id: string;
  name: string | null;
  prefix: string;
  last4: string;
  scopes: string[];
  agentIds: string[] | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

const SCOPES = [
  ["chat", "chat with the org's agents"],
  ["read", "read org resources"],
  ["write", "change agents, skills, memory, conversations, domains"],
  ["admin", "everything an admin may do"],
] as const;

/** API keys: create (the key is shown once), list, revoke. */
export function registerKeyPages(app: Dashboard, api: ApiApp) {
  const render = async (c: Context<AppEnv>, view: OrgView, options: { created?: ApiKey & { key: string }; error?: string; status?: number } = {}) => {
    const base = `/orgs/${view.org.id}`;
    const [keys, agents] = await Promise.all([callApi(api, c, "GET", `/v1${base}/api-keys`), callApi(api, c, "GET", `/v1${base}/agents?limit=200`)]);
    if (!keys.ok) return apiErrorPage(c, view, keys);
    const list = keys.body.data as ApiKey[];
    const agentList = (agents.body?.data ?? []) as Array<{ id: string; name: string }>;
    const created = options.created;
    return c.html(
      <Layout view={view} title="API keys" active="API keys">
        {created ? (
          <div class="note created-key" role="alert">
            <h2>Your new key</h2>
            <p>
              <strong>Copy it now: it is shown once and cannot be retrieved again.</strong> Store it like a password.
            </p>
            <p class="keybox">
              <code id="new-key">{created.key}</code> <CopyButton value={created.key} />
            </p>
          </div>
        ) : null}
        <ErrorNote error={options.error} />
        <table>
          <caption class="visually-hidden">API keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.length === 0 ? (
              <tr>
                <td colspan={7} class="empty">
                  No keys yet.
                </td>
              </tr>
            ) : null}
            {list.map((k) => (
              <tr>
                <td>{k.name ?? "—"}</td>
                <td>
                  <code>
                    {k.prefix}…{k.last4}
                  </code>
                </td>
                <td>
                  {k.scopes.join(", ")}
                  {k.agentIds ? <span class="muted small"> ({k.agentIds.length} agents)</span> : null}
                </td>
                <td>{fmt.date(k.createdAt)}</td>
                <td>{fmt.date(k.lastUsedAt)}</td>
                <td>{fmt.date(k.expiresAt)}</td>
                <td>
                  <ConfirmButton action={`${base}/api-keys/${k.id}/revoke`} label="Revoke" confirm={`Revoke ${k.name ?? k.prefix}? Clients using it stop working.`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>Create a key</h2>
        <form method="post" action={`${base}/api-keys`} class="stack narrow">
          <label>
            Name
            <input type="text" name="name" maxlength={100} placeholder="e.g. website widget" />
          </label>
          <fieldset>
            <legend>Scopes</legend>
            {SCOPES.map(([scope, meaning]) => (
              <label class="check">
                <input type="checkbox" name="scopes" value={scope} checked={scope === "chat"} /> <code>{scope}</code>{" "}
                <span class="muted small">{meaning}</span>
              </label>
            ))}
          </fieldset>
          {agentList.length ? (
            <label>
              Restrict to agents <span class="muted small">(none selected = all agents)</span>
              <select name="agentIds" multiple size={Math.min(6, agentList.length)}>
                {agentList.map((a) => (
                  <option value={a.id}>{a.name}</option>
                ))}
              </select>
            </label>
          ) : null}
          <label>
            Expires on <span class="muted small">(optional, UTC)</span>
            <input type="date" name="expiresOn" />
          </label>
          <button type="submit" class="primary">
            Create key
          </button>
        </form>
      </Layout>,
      (options.status ?? 200) as 200,
    );
  };

  app.get("/orgs/:orgId/api-keys", orgPage(api, (c, view) => render(c, view)));
  app.post(
    "/orgs/:orgId/api-keys",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody({ all: true });
      const body: Record<string, unknown> = { scopes: fields(form, "scopes") };
      const name = field(form, "name").trim();
      if (name) body.name = name;
      const agentIds = fields(form, "agentIds");
      if (agentIds.length) body.agentIds = agentIds;
      const expiresOn = field(form, "expiresOn");
      if (expiresOn) body.expiresAt = `${expiresOn}T23:59:59Z`;
      const result = await callApi(api, c, "POST", `/v1/orgs/${view.org.id}/api-keys`, { body });
      if (!result.ok) return apiFailure(c, view, result) ?? render(c, view, { error: result.error?.message, status: result.status });
      // Rendered in this response, never redirected to: the key must not land in a URL or a cookie.
      return render(c, view, { created: result.body, status: 201 });
    }),
  );
  app.post(
    "/orgs/:orgId/api-keys/:keyId/revoke",
    orgPage(api, async (c, view) => {
      const page = `/orgs/${view.org.id}/api-keys`;
      const result = await callApi(api, c, "DELETE", `/v1${page}/${encodeURIComponent(c.req.param("keyId") ?? "")}`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, page, result);
      return done(c, page, "Key revoked.");
    }),
  );
}
