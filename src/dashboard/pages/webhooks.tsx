import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { type ApiApp, callApi } from "../api";
import type { OrgView } from "../context";
import { type Dashboard, apiErrorPage, apiFailure, done, failed, field, fields, orgPage } from "../page";
import { ConfirmButton, CopyButton, ErrorNote, Layout, fmt } from "../ui";

interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: string;
  secret?: string;
}

interface Delivery {
  id: string;
  runId: string | null;
  event: string;
  status: string;
  attempts: number;
  responseCode: number | null;
  error: string | null;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
}

const EVENTS = ["run.completed", "run.failed", "run.cancelled", "run.requires_action"];

/** Webhook endpoints: add (the secret shown once, in this response), test, enable/disable, remove; each with its delivery log. */
export function registerWebhookPages(app: Dashboard, api: ApiApp) {
  const render = async (c: Context<AppEnv>, view: OrgView, options: { created?: Webhook; error?: string; status?: number } = {}) => {
    const base = `/orgs/${view.org.id}`;
    const result = await callApi<{ data: Webhook[] }>(api, c, "GET", `/v1${base}/webhooks`);
    if (!result.ok) return apiErrorPage(c, view, result);
    const canAdmin = view.can("admin");
    return c.html(
      <Layout view={view} title="Webhooks" active="Webhooks">
        <p>Your systems are told when runs complete, fail, are cancelled or wait for an approval. Deliveries are signed (Standard Webhooks).</p>
        <ErrorNote error={options.error} />
        {options.created?.secret ? (
          <div class="note" role="status">
            <p>
              Signing secret of <strong>{options.created.url}</strong>, shown only now:
            </p>
            <p>
              <code id="new-secret">{options.created.secret}</code> <CopyButton value={options.created.secret} />
            </p>
          </div>
        ) : null}
        {result.body.data.length === 0 ? (
          <p class="empty">No webhook endpoints yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {result.body.data.map((w) => (
                <tr>
                  <td>
                    <a href={`${base}/webhooks/${w.id}`}>{w.url}</a>
                    {w.description ? <div class="muted small">{w.description}</div> : null}
                  </td>
                  <td class="small">{w.events.join(", ")}</td>
                  <td>
                    <span class={`badge ${w.enabled ? "status-active" : "status-failed"}`}>{w.enabled ? "enabled" : "disabled"}</span>
                    {w.disabledReason ? <div class="small">{w.disabledReason}</div> : null}
                  </td>
                  <td>
                    {canAdmin ? (
                      <>
                        <ConfirmButton action={`${base}/webhooks/${w.id}/test`} label="Send test" confirm={`Send a test delivery to ${w.url}?`} />
                        <ConfirmButton action={`${base}/webhooks/${w.id}/delete`} label="Remove" confirm={`Remove ${w.url} and its delivery log?`} />
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {canAdmin ? (
          <>
            <h2>Add an endpoint</h2>
            <form method="post" action={`${base}/webhooks`}>
              <label>
                URL
                <input type="url" name="url" required maxlength={2048} placeholder="https://ci.example.com/openpaw" />
              </label>
              <fieldset>
                <legend>Events</legend>
                {EVENTS.map((e) => (
                  <label class="inline">
                    <input type="checkbox" name="events" value={e} checked={e !== "run.requires_action"} /> {e}
                  </label>
                ))}
              </fieldset>
              <label>
                Description
                <input type="text" name="description" maxlength={500} />
              </label>
              <button type="submit" class="primary">
                Add endpoint
              </button>
            </form>
          </>
        ) : null}
      </Layout>,
      (options.status ?? 200) as 200,
    );
  };

  app.get("/orgs/:orgId/webhooks", orgPage(api, (c, view) => render(c, view)));
  app.post(
    "/orgs/:orgId/webhooks",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody({ all: true });
      const body: Record<string, unknown> = { url: field(form, "url").trim(), events: fields(form, "events") };
      const description = field(form, "description").trim();
      if (description) body.description = description;
      const result = await callApi<Webhook>(api, c, "POST", `/v1/orgs/${view.org.id}/webhooks`, { body });
      if (!result.ok) return apiFailure(c, view, result) ?? render(c, view, { error: result.error?.message, status: result.status });
      // Rendered in this response, never redirected to: the secret must not land in a URL or a cookie.
      return render(c, view, { created: result.body, status: 201 });
    }),
  );
  app.post(
    "/orgs/:orgId/webhooks/:webhookId/test",
    orgPage(api, async (c, view) => {
      const page = `/orgs/${view.org.id}/webhooks`;
      const id = encodeURIComponent(c.req.param("webhookId") ?? "");
      const result = await callApi<Delivery>(api, c, "POST", `/v1${page}/${id}/test`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, page, result);
      const d = result.body;
      return done(c, `${page}/${id}`, d.status === "delivered" ? `Test delivered (HTTP ${d.responseCode}).` : `Test not delivered yet: ${d.error ?? "no answer"}`);
    }),
  );
  app.post(
    "/orgs/:orgId/webhooks/:webhookId/delete",
    orgPage(api, async (c, view) => {
      const page = `/orgs/${view.org.id}/webhooks`;
      const result = await callApi(api, c, "DELETE", `/v1${page}/${encodeURIComponent(c.req.param("webhookId") ?? "")}`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, page, result);
      return done(c, page, "Endpoint removed.");
    }),
  );
  app.get(
    "/orgs/:orgId/webhooks/:webhookId",
    orgPage(api, async (c, view) => {
      const base = `/orgs/${view.org.id}/webhooks/${encodeURIComponent(c.req.param("webhookId") ?? "")}`;
      const endpoint = await callApi<Webhook>(api, c, "GET", `/v1${base}`);
      if (!endpoint.ok) return apiErrorPage(c, view, endpoint);
      const page = Math.max(1, Number(c.req.query("page")) || 1);
      const log = await callApi<{ data: Delivery[]; hasMore: boolean; total: number }>(api, c, "GET", `/v1${base}/deliveries?page=${page}`);
      if (!log.ok) return apiErrorPage(c, view, log);
      return c.html(
        <Layout view={view} title="Webhook deliveries" active="Webhooks">
          <p>
            <a href={`/orgs/${view.org.id}/webhooks`}>← Webhooks</a> · <strong>{endpoint.body.url}</strong> · {log.body.total} deliveries
          </p>
          {log.body.data.length === 0 ? (
            <p class="empty">Nothing delivered yet.</p>
          ) : (
            <table id="deliveries">
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Response</th>
                  <th scope="col">Last attempt</th>
                  <th scope="col">Next attempt</th>
                </tr>
              </thead>
              <tbody>
                {log.body.data.map((d) => (
                  <tr>
                    <td>
                      {d.event}
                      {d.runId ? <div class="muted small">{d.runId}</div> : null}
                    </td>
                    <td>
                      <span class={`badge status-${d.status === "delivered" ? "active" : d.status === "failed" ? "failed" : "pending"}`}>{d.status}</span>
                      {d.error ? <div class="small">{d.error}</div> : null}
                    </td>
                    <td>{d.attempts}</td>
                    <td>{d.responseCode ?? "—"}</td>
                    <td>{fmt.date(d.lastAttemptAt)}</td>
                    <td>{fmt.date(d.nextAttemptAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {log.body.hasMore ? <a href={`${base}?page=${page + 1}`}>Older deliveries →</a> : null}
        </Layout>,
      );
    }),
  );
}
