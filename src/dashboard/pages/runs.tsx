import { type ApiApp, callApi } from "../api";
import { type Dashboard, apiErrorPage, done, failed, orgPage } from "../page";
import { Layout, fmt, plural } from "../ui";

/** A run as the runs API answers it (DESIGN.md §6). */
export interface RunView {
  id: string;
  agentId: string;
  conversationId: string;
  parentRunId: string | null;
  status: string;
  background: boolean;
  stopReason: string | null;
  error: { type: string; message: string } | null;
  iterations: number;
  toolCalls: number;
  tokens: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cost: number;
  lastEventId: number;
  pendingApprovals: Array<{ toolCallId: string; tool: string; input: unknown }>;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
}

const STATUSES = ["queued", "running", "requires_action", "completed", "max_iterations", "error", "cancelled", "interrupted"];

/** Statuses of a run that has not ended: its page follows it live and offers to cancel it. */
export const LIVE_STATUSES = new Set(["queued", "running", "requires_action"]);

/** A followed run's events render here (app.js `followLiveRuns`), from the start of its log. */
export function LiveRun(props: { orgId: string; runId: string }) {
  return (
    <div class="msg assistant" data-live-run={props.runId} data-org={props.orgId}>
      <p class="muted small live-note">Following the run as it happens…</p>
    </div>
  );
}

function StatusBadge(props: { status: string }) {
  return <span class={`badge status-${props.status}`}>{props.status.replace("_", " ")}</span>;
}

/** The runs of the org (newest first, filtered by status or agent) and each run's own page. */
export function registerRunPages(app: Dashboard, api: ApiApp) {
  app.get(
    "/orgs/:orgId/runs",
    orgPage(api, async (c, view) => {
      const base = `/orgs/${view.org.id}`;
      const page = Math.max(1, Number.parseInt(c.req.query("page") ?? "1", 10) || 1);
      const status = STATUSES.includes(c.req.query("status") ?? "") ? (c.req.query("status") as string) : "";
      const agentId = c.req.query("agentId") ?? "";
      const query = new URLSearchParams({ page: String(page), limit: "50" });
      if (status) query.set("status", status);
      if (agentId) query.set("agentId", agentId);
      const [runs, agents] = await Promise.all([
        callApi(api, c, "GET", `/v1${base}/runs?${query}`),
        callApi(api, c, "GET", `/v1${base}/agents?limit=200`),
      ]);
      if (!runs.ok) return apiErrorPage(c, view, runs);
      const names = new Map<string, string>(agents.ok ? agents.body.data.map((a: { id: string; name: string }) => [a.id, a.name]) : []);
      const rows = runs.body.data as RunView[];
      const link = (p: number) => {
        const q = new URLSearchParams({ page: String(p) });
        if (status) q.set("status", status);
        if (agentId) q.set("agentId", agentId);
        return `${base}/runs?${q}`;
      };
      return c.html(
        <Layout view={view} title="Runs" active="Runs">
          <form method="get" action={`${base}/runs`} class="row">
            <label>
              Status
              <select name="status">
                <option value="">Any</option>
                {STATUSES.map((s) => (
                  <option value={s} selected={s === status}>
                    {s.replace("_", " ")}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Agent
              <select name="agentId">
                <option value="">Any</option>
                {[...names].map(([id, name]) => (
                  <option value={id} selected={id === agentId}>
                    {name}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit">Filter</button>
          </form>
          <table aria-label="Runs">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Agent</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Tokens
                </th>
                <th scope="col" class="num">
                  Cost
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 ? (
                <tr>
                  <td colspan={5} class="empty">
                    No runs.
                  </td>
                </tr>
              ) : null}
              {rows.map((r) => (
                <tr>
                  <td>
                    <a href={`${base}/runs/${r.id}`}>{fmt.date(r.createdAt)}</a>
                    {r.background ? <span class="muted small"> background</span> : null}
                  </td>
                  <td>{names.get(r.agentId) ?? r.agentId}</td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td class="num">{fmt.int(r.tokens)}</td>
                  <td class="num">{fmt.usd(r.cost)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav class="pager" aria-label="Pages">
            {page > 1 ? <a href={link(page - 1)}>← Newer</a> : null}
            <span class="muted small">
              Page {page} ({fmt.int(runs.body.total)} runs)
            </span>
            {runs.body.hasMore ? <a href={link(page + 1)}>Older →</a> : null}
          </nav>
        </Layout>,
      );
    }),
  );

  app.get(
    "/orgs/:orgId/runs/:runId",
    orgPage(api, async (c, view) => {
      const base = `/orgs/${view.org.id}`;
      const result = await callApi(api, c, "GET", `/v1${base}/runs/${encodeURIComponent(c.req.param("runId") ?? "")}`);
      if (!result.ok) return apiErrorPage(c, view, result);
      const run = result.body as RunView;
      const agent = await callApi(api, c, "GET", `/v1${base}/agents/${encodeURIComponent(run.agentId)}`);
      const agentName = agent.ok ? (agent.body.name as string) : run.agentId;
      const live = LIVE_STATUSES.has(run.status);
      const conversation = `${base}/playground?agent=${encodeURIComponent(run.agentId)}&conversation=${encodeURIComponent(run.conversationId)}`;
      return c.html(
        <Layout view={view} title={`Run ${run.id}`} active="Runs">
          <p>
            <StatusBadge status={run.status} /> <span class="muted small">{run.background ? "background run" : "foreground run"}</span>
          </p>
          <dl class="facts">
            <dt>Agent</dt>
            <dd>
              <a href={`${base}/agents/${run.agentId}`}>{agentName}</a>
            </dd>
            <dt>Conversation</dt>
            <dd>
              <a href={conversation}>{run.conversationId}</a>
            </dd>
            {run.parentRunId ? (
              <>
                <dt>Started by run</dt>
                <dd>
                  <a href={`${base}/runs/${run.parentRunId}`}>{run.parentRunId}</a>
                </dd>
              </>
            ) : null}
            <dt>Created</dt>
            <dd>{fmt.date(run.createdAt)}</dd>
            <dt>Started</dt>
            <dd>{fmt.date(run.startedAt)}</dd>
            <dt>Ended</dt>
            <dd>{fmt.date(run.endedAt)}</dd>
            <dt>Work</dt>
            <dd>
              {plural(run.iterations, "iteration")} · {plural(run.toolCalls, "tool call")} · {plural(run.lastEventId, "event")}
            </dd>
            <dt>Tokens</dt>
            <dd>
              {fmt.int(run.tokens)} ({fmt.int(run.inputTokens)} in, {fmt.int(run.outputTokens)} out, {fmt.int(run.cacheReadTokens)} cache read,{" "}
              {fmt.int(run.cacheWriteTokens)} cache write)
            </dd>
            <dt>Cost</dt>
            <dd>{fmt.usd(run.cost)}</dd>
            {run.stopReason ? (
              <>
                <dt>Stop reason</dt>
                <dd>{run.stopReason}</dd>
              </>
            ) : null}
          </dl>
          {run.error ? <p class="flash flash-error">{`${run.error.type}: ${run.error.message}`}</p> : null}
          {live ? (
            <>
              <section class="chat" aria-label="Live run">
                <div id="transcript" class="transcript">
                  <LiveRun orgId={view.org.id} runId={run.id} />
                </div>
              </section>
              {view.can("chat") ? (
                <form method="post" action={`${base}/runs/${run.id}/cancel`}>
                  <button type="submit" class="danger">
                    Cancel run
                  </button>
                </form>
              ) : null}
            </>
          ) : (
            <p>
              <a href={conversation}>Open the conversation</a>
            </p>
          )}
        </Layout>,
      );
    }),
  );

  // Without JavaScript: cancel, then back to the run's page (which then shows how it ended).
  app.post(
    "/orgs/:orgId/runs/:runId/cancel",
    orgPage(api, async (c, view) => {
      const page = `/orgs/${view.org.id}/runs/${encodeURIComponent(c.req.param("runId") ?? "")}`;
      const result = await callApi(api, c, "POST", `/v1${page}/cancel`, { body: {} });
      if (!result.ok) return failed(c, page, result);
      return done(c, page, "Run cancelled.");
    }),
  );
}
