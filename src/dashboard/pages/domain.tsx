import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { type ApiApp, callApi } from "../api";
import type { OrgView } from "../context";
import { type Dashboard, apiErrorPage, apiFailure, done, failed, field, loginOnly, orgPage } from "../page";
import { ConfirmButton, CopyButton, ErrorNote, Layout, fmt } from "../ui";

interface Domain {
  domain: string;
  status: "pending" | "active" | "failed";
  dns: Array<{ type: string; name: string; value: string }>;
  cnameOk: boolean;
  cnameRequired: boolean;
  failureReason: string | null;
  checkedAt: string | null;
  verifiedAt: string | null;
}

/** The status block; while pending it asks again every 10 s (each GET re-checks DNS). */
function DomainStatus(props: { orgId: string; domain: Domain }) {
  const d = props.domain;
  const live = d.status === "pending";
  return (
    <div
      id="domain-status"
      class={`note status-${d.status}`}
      role="status"
      hx-get={live ? `/orgs/${props.orgId}/domain/status` : undefined}
      hx-trigger={live ? "every 10s" : undefined}
      hx-swap={live ? "outerHTML" : undefined}
    >
      <p>
        <strong>{d.domain}</strong>: <span class={`badge status-${d.status}`}>{d.status}</span>
        {d.verifiedAt ? <span class="muted small"> verified {fmt.date(d.verifiedAt)}</span> : null}
      </p>
      {d.failureReason ? <p class="small">{d.failureReason}</p> : null}
      <p class="muted small">
        CNAME {d.cnameOk ? "points here" : "not seen yet"}
        {d.cnameRequired ? " (required)" : " (optional)"} · last checked {fmt.date(d.checkedAt)}
      </p>
    </div>
  );
}

/** Custom domain: set, DNS records to create (with copy buttons), live status, remove. */
export function registerDomainPages(app: Dashboard, api: ApiApp) {
  const render = async (c: Context<AppEnv>, view: OrgView, error?: string, status = 200) => {
    const base = `/orgs/${view.org.id}`;
    const result = await callApi<Domain>(api, c, "GET", `/v1${base}/custom-domain`);
    if (!result.ok && result.status !== 404) return apiErrorPage(c, view, result);
    const d = result.ok ? result.body : null;
    const canWrite = view.can("write");
    return c.html(
      <Layout view={view} title="Custom domain" active="Domain">
        <p>Serve this organization's API and dashboard on your own hostname.</p>
        <ErrorNote error={error} />
        {d ? (
          <>
            <DomainStatus orgId={view.org.id} domain={d} />
            <h2>DNS records</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Name</th>
                  <th scope="col">Value</th>
                </tr>
              </thead>
              <tbody>
                {d.dns.map((r) => (
                  <tr>
                    <td>{r.type}</td>
                    <td>
                      <code>{r.name}</code> <CopyButton value={r.name} />
                    </td>
                    <td>
                      <code>{r.value}</code> <CopyButton value={r.value} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : (
          <p class="empty">No custom domain set.</p>
        )}
        {canWrite ? (
          <>
            <h2>{d ? "Change domain" : "Set a domain"}</h2>
            <form method="post" action={`${base}/domain`} class="row">
              <label>
                Hostname
                <input type="text" name="domain" required placeholder="agents.example.com" maxlength={253} />
              </label>
              <button type="submit" class="primary">
                Save
              </button>
            </form>
            {d ? <ConfirmButton action={`${base}/domain/delete`} label="Remove domain" confirm={`Stop serving on ${d.domain}?`} /> : null}
          </>
        ) : null}
      </Layout>,
      status as 200,
    );
  };

  app.get("/orgs/:orgId/domain", orgPage(api, (c, view) => render(c, view)));
  app.get(
    "/orgs/:orgId/domain/status",
    orgPage(api, async (c, view) => {
      const result = await callApi<Domain>(api, c, "GET", `/v1/orgs/${view.org.id}/custom-domain`);
      if (!result.ok) return loginOnly(c, result) ?? c.body(null, 204);
      return c.html(<DomainStatus orgId={view.org.id} domain={result.body} />);
    }),
  );
  app.post(
    "/orgs/:orgId/domain",
    orgPage(api, async (c, view) => {
      const domain = field(await c.req.parseBody(), "domain").trim();
      const result = await callApi(api, c, "PUT", `/v1/orgs/${view.org.id}/custom-domain`, { body: { domain } });
      if (!result.ok) return apiFailure(c, view, result) ?? render(c, view, result.error?.message, result.status);
      return done(c, `/orgs/${view.org.id}/domain`, "Domain saved. Create the DNS records below.");
    }),
  );
  app.post(
    "/orgs/:orgId/domain/delete",
    orgPage(api, async (c, view) => {
      const page = `/orgs/${view.org.id}/domain`;
      const result = await callApi(api, c, "DELETE", `/v1/orgs/${view.org.id}/custom-domain`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, page, result);
      return done(c, page, "Domain removed.");
    }),
  );
}
