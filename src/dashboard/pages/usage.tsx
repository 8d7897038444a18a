import { type ApiApp, callApi } from "../api";
import { type Dashboard, apiErrorPage, orgPage } from "../page";
import { Layout, fmt } from "../ui";

interface Day {
  date: string;
  runs: number;
  tokens: number;
  cost: number;
}
interface UsageRecord {
  id: string;
  agentId: string;
  model: string;
  tokens: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  iterations: number;
  toolCalls: number;
  status: string;
  durationMs: number;
  createdAt: string;
  conversationId: string;
  runId: string;
  apiKeyId: string | null;
  userId: string | null;
}

const CSV_COLUMNS = [
  "id",
  "createdAt",
  "agentId",
  "conversationId",
  "runId",
  "apiKeyId",
  "userId",
  "model",
  "inputTokens",
  "outputTokens",
  "tokens",
  "cost",
  "iterations",
  "toolCalls",
  "status",
  "durationMs",
] as const;

const csvCell = (value: unknown) => {
  const s = value === null || value === undefined ? "" : String(value);
  // Quote when needed, and defuse spreadsheet formulas (a cell starting with = + - @).
  const safe = /^[=+\-@]/.test(s) && Number.isNaN(Number(s)) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

/** Tokens per day as bars and cost as a line (its own scale), drawn on the server: no chart library, no script. */
function DailyChart(props: { days: Day[] }) {
  const W = 720;
  const H = 220;
  const pad = { l: 56, r: 56, t: 12, b: 28 };
  const days = props.days;
  const maxTokens = Math.max(1, ...days.map((d) => d.tokens));
  const maxCost = Math.max(0.0001, ...days.map((d) => d.cost));
  const step = (W - pad.l - pad.r) / Math.max(1, days.length);
  const y = (v: number, max: number) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const points = days.map((d, i) => `${(pad.l + step * (i + 0.5)).toFixed(1)},${y(d.cost, maxCost).toFixed(1)}`).join(" ");
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title chart-desc">
        <title id="chart-title">Daily tokens and cost</title>
        <desc id="chart-desc">{`Bars: tokens per day (max ${fmt.int(maxTokens)}). Line: cost per day (max ${fmt.usd(maxCost)}).`}</desc>
        <line class="axis" x1={pad.l} x2={W - pad.r} y1={H - pad.b} y2={H - pad.b} />
        <text class="label" x={pad.l - 6} y={pad.t + 10} text-anchor="end">
          {fmt.int(maxTokens)}
        </text>
        <text class="label" x={pad.l - 6} y={H - pad.b} text-anchor="end">
          0
        </text>
        <text class="label cost" x={W - pad.r + 6} y={pad.t + 10}>
          {fmt.usd(maxCost)}
        </text>
        {days.map((d, i) => {
          const top = y(d.tokens, maxTokens);
          return (
            <rect class="bar" x={(pad.l + step * i + step * 0.15).toFixed(1)} y={top.toFixed(1)} width={(step * 0.7).toFixed(1)} height={(H - pad.b - top).toFixed(1)}>
              <title>{`${d.date}: ${fmt.int(d.tokens)} tokens, ${fmt.usd(d.cost)}, ${d.runs} runs`}</title>
            </rect>
          );
        })}
        {days.length ? <polyline class="line" points={points} fill="none" /> : null}
        {days.length ? (
          <>
            <text class="label" x={pad.l} y={H - 8}>
              {days[0].date}
            </text>
            <text class="label" x={W - pad.r} y={H - 8} text-anchor="end">
              {days[days.length - 1].date}
            </text>
          </>
        ) : null}
      </svg>
      <figcaption class="legend small">
        <span class="swatch bar-swatch"></span> tokens <span class="swatch line-swatch"></span> cost (USD)
      </figcaption>
    </figure>
  );
}

/** The query string of the filters (agent, from, to), for the table, pagination and CSV. */
function filterQuery(q: { agentId?: string; from?: string; to?: string }, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...q, ...extra })) if (v) params.set(k, v);
  return params.toString();
}

/** Usage: month-to-date totals, a daily chart, top agents, the records (filter, pages, CSV). */
export function registerUsagePages(app: Dashboard, api: ApiApp) {
  app.get(
    "/orgs/:orgId/usage",
    orgPage(api, async (c, view) => {
      const base = `/orgs/${view.org.id}`;
      const filters = { agentId: c.req.query("agentId") ?? "", from: c.req.query("from") ?? "", to: c.req.query("to") ?? "" };
      const page = Math.max(1, Number(c.req.query("page")) || 1);
      const monthStart = new Date().toISOString().slice(0, 8) + "01";
      const [summary, records, agents] = await Promise.all([
        callApi(api, c, "GET", `/v1${base}/usage/summary?from=${monthStart}`),
        callApi(api, c, "GET", `/v1${base}/usage?${filterQuery(filters, { page: String(page), limit: "25" })}`),
        callApi(api, c, "GET", `/v1${base}/agents?limit=200`),
      ]);
      if (!summary.ok) return apiErrorPage(c, view, summary);
      const s = summary.body;
      const names = new Map<string, string>(((agents.body?.data ?? []) as Array<{ id: string; name: string }>).map((a) => [a.id, a.name]));
      const rows = (records.ok ? records.body.data : []) as UsageRecord[];
      return c.html(
        <Layout view={view} title="Usage" active="Usage">
          <h2>Month to date</h2>
          <dl class="stats">
            <div>
              <dt>Runs</dt>
              <dd>{fmt.int(s.totals.runs)}</dd>
            </div>
            <div>
              <dt>Tokens</dt>
              <dd>{fmt.int(s.totals.tokens)}</dd>
            </div>
            <div>
              <dt>Cost</dt>
              <dd>{fmt.usd(s.totals.cost)}</dd>
            </div>
            <div>
              <dt>Tool calls</dt>
              <dd>{fmt.int(s.totals.toolCalls)}</dd>
            </div>
            <div>
              <dt>Active agents</dt>
              <dd>{fmt.int(s.activeAgents)}</dd>
            </div>
          </dl>
          <DailyChart days={s.daily as Day[]} />
          <h2>Top agents</h2>
          {s.topAgents.length === 0 ? (
            <p class="empty">No runs this month.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col" class="num">
                    Runs
                  </th>
                  <th scope="col" class="num">
                    Tokens
                  </th>
                  <th scope="col" class="num">
                    Cost
                  </th>
                </tr>
              </thead>
              <tbody>
                {(s.topAgents as Array<{ agentId: string; name: string; runs: number; tokens: number; cost: number }>).map((a) => (
                  <tr>
                    <td>{a.name}</td>
                    <td class="num">{fmt.int(a.runs)}</td>
                    <td class="num">{fmt.int(a.tokens)}</td>
                    <td class="num">{fmt.usd(a.cost)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2 id="records-h">Records</h2>
          <form method="get" action={`${base}/usage`} class="row filters">
            <label>
              Agent
              <select name="agentId">
                <option value="">All agents</option>
                {[...names].map(([id, name]) => (
                  <option value={id} selected={id === filters.agentId}>
                    {name}
                  </option>
                ))}
              </select>
            </label>
            <label>
              From
              <input type="date" name="from" value={filters.from} />
            </label>
            <label>
              To
              <input type="date" name="to" value={filters.to} />
            </label>
            <button type="submit">Filter</button>
            <a class="button" href={`${base}/usage.csv?${filterQuery(filters)}`} hx-boost="false" download>
              Export CSV
            </a>
          </form>
          {records.ok ? null : <p class="flash flash-error">{records.error?.message}</p>}
          <table aria-labelledby="records-h">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Agent</th>
                <th scope="col">Model</th>
                <th scope="col" class="num">
                  Tokens
                </th>
                <th scope="col" class="num">
                  Cost
                </th>
                <th scope="col" class="num">
                  Tool calls
                </th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 ? (
                <tr>
                  <td colspan={7} class="empty">
                    No records.
                  </td>
                </tr>
              ) : null}
              {rows.map((r) => (
                <tr>
                  <td>
                    <a href={`${base}/runs/${encodeURIComponent(r.runId)}`} title="The run of this record">
                      {fmt.date(r.createdAt)}
                    </a>
                  </td>
                  <td>{names.get(r.agentId) ?? r.agentId}</td>
                  <td>{r.model}</td>
                  <td class="num">{fmt.int(r.tokens)}</td>
                  <td class="num">{fmt.usd(r.cost)}</td>
                  <td class="num">{r.toolCalls}</td>
                  <td>{r.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {records.ok ? (
            <nav class="pager" aria-label="Pages">
              {page > 1 ? <a href={`${base}/usage?${filterQuery(filters, { page: String(page - 1) })}`}>← Newer</a> : null}
              <span class="muted small">
                Page {page} of {Math.max(1, Math.ceil(records.body.total / records.body.limit))} ({fmt.int(records.body.total)} records)
              </span>
              {records.body.hasMore ? <a href={`${base}/usage?${filterQuery(filters, { page: String(page + 1) })}`}>Older →</a> : null}
            </nav>
          ) : null}
        </Layout>,
      );
    }),
  );

  // The records of the filters as CSV, page by page through the API (200 at a time).
  app.get(
    "/orgs/:orgId/usage.csv",
    orgPage(api, async (c, view) => {
      const filters = { agentId: c.req.query("agentId") ?? "", from: c.req.query("from") ?? "", to: c.req.query("to") ?? "" };
      const lines = [CSV_COLUMNS.join(",")];
      for (let page = 1; ; page++) {
        const result = await callApi(api, c, "GET", `/v1/orgs/${view.org.id}/usage?${filterQuery(filters, { page: String(page), limit: "200" })}`);
        if (!result.ok) return apiErrorPage(c, view, result);
        for (const r of result.body.data as UsageRecord[]) lines.push(CSV_COLUMNS.map((k) => csvCell(r[k])).join(","));
        if (!result.body.hasMore) break;
      }
      c.header("Content-Type", "text/csv; charset=utf-8");
      c.header("Content-Disposition", `attachment; filename="usage-${view.org.id}.csv"`);
      return c.body(`${lines.join("\r\n")}\r\n`);
    }),
  );
}
