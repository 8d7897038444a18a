import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { type ApiApp, callApi } from "../api";
import type { OrgView } from "../context";
import { type Dashboard, apiErrorPage, apiFailure, done, failed, field, orgPage } from "../page";
import { ConfirmButton, ErrorNote, Layout, fmt } from "../ui";

interface Schedule {
  id: string;
  agentId: string;
  cron: string;
  timezone: string;
  message: string;
  enabled: boolean;
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastRunId: string | null;
  lastError: string | null;
}

/** Schedules per agent: each agent's timetable (next tick, last run, why a tick started nothing), add and remove. */
export function registerSchedulePages(app: Dashboard, api: ApiApp) {
  const render = async (c: Context<AppEnv>, view: OrgView, error?: string, status = 200) => {
    const base = `/orgs/${view.org.id}`;
    const agents = await callApi<{ data: Array<{ id: string; name: string }> }>(api, c, "GET", `/v1${base}/agents?limit=200`);
    if (!agents.ok) return apiErrorPage(c, view, agents);
    const lists = await Promise.all(
      agents.body.data.map(async (agent) => {
        const result = await callApi<{ data: Schedule[] }>(api, c, "GET", `/v1${base}/agents/${agent.id}/schedules`);
        return { agent, schedules: result.ok ? result.body.data : [] };
      }),
    );
    const canWrite = view.can("write");
    return c.html(
      <Layout view={view} title="Schedules" active="Schedules">
        <p>Agents that start by themselves: each tick of a cron expression starts a background run with the message.</p>
        <ErrorNote error={error} />
        {lists.every((l) => l.schedules.length === 0) ? <p class="empty">No schedules yet.</p> : null}
        {lists
          .filter((l) => l.schedules.length > 0)
          .map(({ agent, schedules }) => (
            <section>
              <h2>{agent.name}</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Message</th>
                    <th scope="col">Next tick</th>
                    <th scope="col">Last run</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {schedules.map((s) => (
                    <tr>
                      <td>
                        <code>{s.cron}</code> <span class="muted small">{s.timezone}</span>
                        {s.enabled ? null : <span class="badge status-failed">paused</span>}
                      </td>
                      <td class="small">{s.message.length > 120 ? `${s.message.slice(0, 120)}…` : s.message}</td>
                      <td>{fmt.date(s.nextRunAt)}</td>
                      <td>
                        {fmt.date(s.lastRunAt)}
                        {s.lastRunId ? <div class="muted small">{s.lastRunId}</div> : null}
                        {s.lastError ? <div class="small">{s.lastError}</div> : null}
                      </td>
                      <td>
                        {canWrite ? (
                          <ConfirmButton action={`${base}/schedules/${agent.id}/${s.id}/delete`} label="Remove" confirm={`Remove the schedule ${s.cron}?`} />
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          ))}
        {canWrite && agents.body.data.length > 0 ? (
          <>
            <h2>Add a schedule</h2>
            <form method="post" action={`${base}/schedules`}>
              <label>
                Agent
                <select name="agentId">
                  {agents.body.data.map((a) => (
                    <option value={a.id}>{a.name}</option>
                  ))}
                </select>
              </label>
              <label>
                Cron (minute hour day month weekday)
                <input type="text" name="cron" required maxlength={200} placeholder="0 9 * * 1-5" />
              </label>
              <label>
                Time zone
                <input type="text" name="timezone" maxlength={64} placeholder="UTC" />
              </label>
              <label>
                Message
                <textarea name="message" required rows={3}></textarea>
              </label>
              <button type="submit" class="primary">
                Add schedule
              </button>
            </form>
          </>
        ) : null}
      </Layout>,
      status as 200,
    );
  };

  app.get("/orgs/:orgId/schedules", orgPage(api, (c, view) => render(c, view)));
  app.post(
    "/orgs/:orgId/schedules",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody();
      const agentId = encodeURIComponent(field(form, "agentId"));
      const body: Record<string, unknown> = { cron: field(form, "cron").trim(), message: field(form, "message") };
      const timezone = field(form, "timezone").trim();
      if (timezone) body.timezone = timezone;
      const result = await callApi(api, c, "POST", `/v1/orgs/${view.org.id}/agents/${agentId}/schedules`, { body });
      if (!result.ok) return apiFailure(c, view, result) ?? render(c, view, result.error?.message, result.status);
      return done(c, `/orgs/${view.org.id}/schedules`, "Schedule added.");
    }),
  );
  app.post(
    "/orgs/:orgId/schedules/:agentId/:scheduleId/delete",
    orgPage(api, async (c, view) => {
      const page = `/orgs/${view.org.id}/schedules`;
      const path = `/v1/orgs/${view.org.id}/agents/${encodeURIComponent(c.req.param("agentId") ?? "")}/schedules/${encodeURIComponent(c.req.param("scheduleId") ?? "")}`;
      const result = await callApi(api, c, "DELETE", path);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, page, result);
      return done(c, page, "Schedule removed.");
    }),
  );
}
