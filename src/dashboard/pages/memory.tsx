import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { type ApiApp, callApi } from "../api";
import type { OrgView } from "../context";
import { type Dashboard, apiErrorPage, apiFailure, done, failed, fields, orgPage } from "../page";
import { ConfirmButton, ErrorNote, Layout, fmt } from "../ui";

interface Memory {
  notes: Array<{ id: string; content: string; createdAt: string }>;
  history: Array<{ id: string; conversationId: string | null; content: string; createdAt: string }>;
}

/** An agent's memory: NOTES (editable, one box per note), HISTORY (read only), clear. */
export function registerMemoryPages(app: Dashboard, api: ApiApp) {
  const render = async (c: Context<AppEnv>, view: OrgView, draft?: string[], error?: string, status = 200) => {
    const agentPath = `/orgs/${view.org.id}/agents/${c.req.param("agentId")}`;
    const [agent, memory] = await Promise.all([
      callApi(api, c, "GET", `/v1${agentPath}`),
      callApi<Memory>(api, c, "GET", `/v1${agentPath}/memory?historyLimit=200`),
    ]);
    if (!agent.ok) return apiErrorPage(c, view, agent);
    if (!memory.ok) return apiErrorPage(c, view, memory);
    const notes = draft ?? memory.body.notes.map((n) => n.content);
    const canWrite = view.can("write");
    return c.html(
      <Layout view={view} title={`Memory of ${agent.body.name}`} active="Agents">
        <p>
          <a href={agentPath}>← {agent.body.name}</a>
        </p>
        <ErrorNote error={error} />
        <section aria-labelledby="notes-h">
          <h2 id="notes-h">NOTES</h2>
          <p class="muted small">Curated facts the agent always sees. Empty a box to delete that note.</p>
          <form method="post" action={`${agentPath}/memory`} class="stack">
            <fieldset disabled={!canWrite}>
              {[...notes, ""].map((note, i) => (
                <label>
                  {i < notes.length ? `Note ${i + 1}` : "New note"}
                  <textarea name="notes" rows={2}>
                    {note}
                  </textarea>
                </label>
              ))}
              {canWrite ? (
                <button type="submit" class="primary">
                  Save notes
                </button>
              ) : null}
            </fieldset>
          </form>
        </section>
        <section aria-labelledby="history-h">
          <h2 id="history-h">HISTORY</h2>
          {memory.body.history.length === 0 ? <p class="empty">No history yet.</p> : null}
          <ol class="history">
            {memory.body.history.map((h) => (
              <li>
                <p class="muted small">{fmt.date(h.createdAt)}</p>
                <p>{h.content}</p>
              </li>
            ))}
          </ol>
        </section>
        {canWrite ? (
          <section class="danger-zone" aria-labelledby="clear-h">
            <h2 id="clear-h">Clear memory</h2>
            <ConfirmButton action={`${agentPath}/memory/clear`} label="Clear NOTES and HISTORY" confirm="Clear this agent's whole memory? This cannot be undone." />
          </section>
        ) : null}
      </Layout>,
      status as 200,
    );
  };

  app.get("/orgs/:orgId/agents/:agentId/memory", orgPage(api, (c, view) => render(c, view)));
  app.post(
    "/orgs/:orgId/agents/:agentId/memory",
    orgPage(api, async (c, view) => {
      const notes = fields(await c.req.parseBody({ all: true }), "notes")
        .map((n) => n.trim())
        .filter((n) => n !== "");
      const path = `/orgs/${view.org.id}/agents/${c.req.param("agentId")}/memory`;
      const result = await callApi(api, c, "PUT", `/v1${path}/notes`, { body: { notes } });
      if (!result.ok) return apiFailure(c, view, result) ?? render(c, view, notes, result.error?.message, result.status);
      return done(c, path, "Notes saved.");
    }),
  );
  app.post(
    "/orgs/:orgId/agents/:agentId/memory/clear",
    orgPage(api, async (c, view) => {
      const path = `/orgs/${view.org.id}/agents/${c.req.param("agentId")}/memory`;
      const result = await callApi(api, c, "DELETE", `/v1${path}`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, path, result);
      return done(c, path, "Memory cleared.");
    }),
  );
}
