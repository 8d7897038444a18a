import type { Context } from "hono";
import { planOfOrg } from "../../features/agents/serialize";
import type { AppEnv } from "../../http/context";
import { TOOL_NAMES, TOOL_TIERS, unavailableTools } from "../../runtime/tools/names";
import { type ApiApp, callApi } from "../api";
import { redirectTo } from "../redirect";
import type { OrgView } from "../context";
import { type Dashboard, apiErrorPage, apiFailure, done, failed, field, fields, orgPage } from "../page";
import { ConfirmButton, ErrorNote, Layout } from "../ui";

interface Model {
  id: string;
  name: string;
  provider: string;
  available: boolean;
  local: boolean;
  pricesKnown: boolean;
  prices: { input: number; output: number };
}
interface SkillSummary {
  id: string;
  name: string;
  description: string;
  builtIn: boolean;
}
interface Agent {
  id: string;
  name: string;
  description: string | null;
  systemPrompt: string;
  model: string;
  temperature: number;
  maxIterations: number;
  enabledTools: string[];
  approvalRequired: string[];
  unavailableTools: Array<{ name: string; reason: string }>;
  metadata: Record<string, unknown>;
  skills: SkillSummary[];
}

/** Each tool with why this org cannot use it (plan tier or deployment), by the same rule agents are served with. */
async function toolChoices(c: Context<AppEnv>, orgId: string) {
  const { services } = c.var;
  const plan = await planOfOrg(services.db.kysely, services.plans, orgId);
  const missing = new Map(unavailableTools(TOOL_NAMES, plan.toolTier, plan.name, services.tools.unavailable()).map((u) => [u.name, u.reason]));
  return TOOL_NAMES.map((name) => ({ name, tier: TOOL_TIERS[name], reason: missing.get(name) ?? null }));
}

/** The form's fields as an API body; bad JSON in metadata is reported like a validation error. */
function agentBody(form: Record<string, unknown>): { body: Record<string, unknown>; error?: string } {
  const body: Record<string, unknown> = {
    name: field(form, "name"),
    description: field(form, "description").trim() || null,
    systemPrompt: field(form, "systemPrompt"),
    model: field(form, "model"),
    maxIterations: Number(field(form, "maxIterations") || 25),
    enabledTools: fields(form, "enabledTools"),
    approvalRequired: fields(form, "approvalRequired"),
  };
  const temperature = field(form, "temperature").trim();
  if (temperature !== "") body.temperature = Number(temperature);
  const metadata = field(form, "metadata").trim();
  if (metadata !== "") {
    try {
      body.metadata = JSON.parse(metadata);
    } catch {
      return { body, error: "Metadata must be a JSON object, e.g. {\"team\": \"support\"}." };
    }
  }
  return { body };
}

/** What a model costs, as the picker shows it: prices, free and local, or unknown, and whether it can run here. */
function modelLabel(m: Model): string {
  const price = m.local && m.prices.input === 0 && m.prices.output === 0 ? "free, your own server" : !m.pricesKnown ? "price unknown" : `$${m.prices.input} / $${m.prices.output}`;
  return m.available ? price : `${price} (not available on this server)`;
}

function AgentForm(props: {
  view: OrgView;
  action: string;
  agent: Partial<Agent> & { metadataText?: string };
  models: Model[];
  tools: Awaited<ReturnType<typeof toolChoices>>;
  submit: string;
  readOnly: boolean;
}) {
  const a = props.agent;
  const enabled = new Set(a.enabledTools ?? ["memory_read", "memory_write"]);
  const approval = new Set(a.approvalRequired ?? []);
  return (
    <form method="post" action={props.action} class="stack">
      <fieldset disabled={props.readOnly}>
        <label>
          Name
          <input type="text" name="name" required maxlength={100} value={a.name ?? ""} />
        </label>
        <label>
          Description <span class="muted">(optional)</span>
          <input type="text" name="description" maxlength={1000} value={a.description ?? ""} />
        </label>
        <label>
          System prompt
          <textarea name="systemPrompt" rows={8}>
            {a.systemPrompt ?? ""}
          </textarea>
        </label>
        <label>
          Model <span class="muted">(USD per million tokens, input / output)</span>
          <select name="model" required>
            {props.models.map((m) => (
              <option value={m.id} selected={m.id === a.model}>
                {`${m.name} — ${modelLabel(m)}`}
              </option>
            ))}
          </select>
        </label>
        <div class="row">
          <label>
            Temperature <span class="muted">(0–1, blank = model default)</span>
            <input type="number" name="temperature" min={0} max={1} step={0.05} value={a.temperature === undefined ? "" : String(a.temperature)} />
          </label>
          <label>
            Max iterations
            <input type="number" name="maxIterations" min={1} max={100} required value={String(a.maxIterations ?? 25)} />
          </label>
        </div>
        <fieldset class="tools">
          <legend>Tools</legend>
          {props.tools.map((t) => (
            <label class="check">
              <input type="checkbox" name="enabledTools" value={t.name} checked={enabled.has(t.name)} />
              <code>{t.name}</code> <span class={`badge tier-${t.tier}`}>{t.tier}</span>
              {t.reason ? <span class="muted small"> — {t.reason}</span> : null}
            </label>
          ))}
        </fieldset>
        <fieldset class="tools">
          <legend>
            Needs approval <span class="muted">(a person approves or denies each call before it runs; only enabled tools)</span>
          </legend>
          <label class="check">
            <input type="checkbox" name="approvalRequired" value="*" checked={approval.has("*")} /> <strong>every tool</strong>
          </label>
          {props.tools.map((t) => (
            <label class="check">
              <input type="checkbox" name="approvalRequired" value={t.name} checked={approval.has(t.name)} /> <code>{t.name}</code>
            </label>
          ))}
        </fieldset>
        <label>
          Metadata <span class="muted">(JSON object, optional)</span>
          <textarea name="metadata" rows={3} class="mono">
            {a.metadataText ?? (a.metadata && Object.keys(a.metadata).length ? JSON.stringify(a.metadata, null, 2) : "")}
          </textarea>
        </label>
        {props.readOnly ? null : (
          <button type="submit" class="primary">
            {props.submit}
          </button>
        )}
      </fieldset>
    </form>
  );
}

/** Agents: list, create, edit (with skills), delete. */
export function registerAgentPages(app: Dashboard, api: ApiApp) {
  app.get("/orgs/:orgId", (c) => redirectTo(c, `/orgs/${c.req.param("orgId")}/agents`));

  app.get(
    "/orgs/:orgId/agents",
    orgPage(api, async (c, view) => {
      const base = `/orgs/${view.org.id}`;
      const result = await callApi(api, c, "GET", `/v1${base}/agents?limit=200`);
      if (!result.ok) return apiErrorPage(c, view, result);
      const agents = result.body.data as Agent[];
      return c.html(
        <Layout view={view} title="Agents" active="Agents">
          {view.can("write") ? (
            <p>
              <a class="button primary" href={`${base}/agents/new`}>
                New agent
              </a>
            </p>
          ) : null}
          {agents.length === 0 ? (
            <p class="empty">No agents yet.</p>
          ) : (
            <ul class="cards">
              {agents.map((a) => (
                <li class="card">
                  <h2>
                    <a href={`${base}/agents/${a.id}`}>{a.name}</a>
                  </h2>
                  {a.description ? <p>{a.description}</p> : null}
                  <p class="muted small">
                    {a.model} · {a.enabledTools.length} tools · {a.skills.length} skills
                  </p>
                  {a.unavailableTools.length ? (
                    <p class="warn small">Unavailable here: {a.unavailableTools.map((t) => t.name).join(", ")}</p>
                  ) : null}
                  <p class="actions">
                    {view.can("chat") ? <a href={`${base}/playground?agent=${a.id}`}>Chat</a> : null}
                    <a href={`${base}/agents/${a.id}/memory`}>Memory</a>
                    <a href={`${base}/agents/${a.id}`}>{view.can("write") ? "Edit" : "View"}</a>
                  </p>
                </li>
              ))}
            </ul>
          )}
        </Layout>,
      );
    }),
  );

  const renderNew = async (c: Context<AppEnv>, view: OrgView, agent: Partial<Agent> & { metadataText?: string } = {}, error?: string, status = 200) => {
    const models = await callApi(api, c, "GET", "/v1/models");
    // A new agent starts on the catalogue's default (a mid-priced model that can run here), not the first listed.
    agent = { model: c.var.services.models.defaultModel().id, ...agent };
    return c.html(
      <Layout view={view} title="New agent" active="Agents">
        <ErrorNote error={error} />
        <AgentForm
          view={view}
          action={`/orgs/${view.org.id}/agents`}
          agent={agent}
          models={models.body?.data ?? []}
          tools={await toolChoices(c, view.org.id)}
          submit="Create agent"
          readOnly={!view.can("write")}
        />
      </Layout>,
      status as 200,
    );
  };

  app.get("/orgs/:orgId/agents/new", orgPage(api, (c, view) => renderNew(c, view)));
  app.post(
    "/orgs/:orgId/agents",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody({ all: true });
      const { body, error } = agentBody(form);
      const echo = { ...(body as Partial<Agent>), metadataText: field(form, "metadata") };
      if (error) return renderNew(c, view, echo, error, 400);
      const result = await callApi(api, c, "POST", `/v1/orgs/${view.org.id}/agents`, { body });
      if (!result.ok) return renderNew(c, view, echo, result.error?.message, result.status);
      return done(c, `/orgs/${view.org.id}/agents/${result.body.id}`, `Created agent ${result.body.name}.`);
    }),
  );

  const renderEdit = async (c: Context<AppEnv>, view: OrgView, override?: Partial<Agent> & { metadataText?: string }, error?: string, status = 200) => {
    const base = `/orgs/${view.org.id}`;
    const agentId = c.req.param("agentId");
    const [agentRes, models, skills] = await Promise.all([
      callApi(api, c, "GET", `/v1${base}/agents/${agentId}`),
      callApi(api, c, "GET", "/v1/models"),
      callApi(api, c, "GET", `/v1${base}/skills`),
    ]);
    if (!agentRes.ok) return apiErrorPage(c, view, agentRes);
    const agent = agentRes.body as Agent;
    const attached = new Set(agent.skills.map((s) => s.id));
    const attachable = ((skills.body?.data ?? []) as SkillSummary[]).filter((s) => !attached.has(s.id));
    const canWrite = view.can("write");
    return c.html(
      <Layout view={view} title={agent.name} active="Agents">
        <p class="actions">
          {view.can("chat") ? <a href={`${base}/playground?agent=${agent.id}`}>Open in playground</a> : null}
          <a href={`${base}/agents/${agent.id}/memory`}>Memory</a>
          <span class="muted small">
            id <code>{agent.id}</code>
          </span>
        </p>
        <ErrorNote error={error} />
        {agent.unavailableTools.length ? (
          <div class="note warn" role="note">
            <p>These enabled tools are not used at run time:</p>
            <ul>
              {agent.unavailableTools.map((t) => (
                <li>
                  <code>{t.name}</code>: {t.reason}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        <AgentForm
          view={view}
          action={`${base}/agents/${agent.id}`}
          agent={{ ...agent, ...override }}
          models={models.body?.data ?? []}
          tools={await toolChoices(c, view.org.id)}
          submit="Save changes"
          readOnly={!canWrite}
        />
        <section aria-labelledby="skills-h">
          <h2 id="skills-h">Skills</h2>
          {agent.skills.length === 0 ? <p class="empty">No skills attached.</p> : null}
          <ul class="list">
            {agent.skills.map((s) => (
              <li>
                <strong>{s.name}</strong> {s.builtIn ? <span class="badge">built-in</span> : null}
                <span class="muted small"> {s.description}</span>
                {canWrite ? (
                  <ConfirmButton
                    action={`${base}/agents/${agent.id}/skills/${s.id}/detach`}
                    label="Detach"
                    class="secondary"
                    confirm={`Detach ${s.name} from this agent?`}
                  />
                ) : null}
              </li>
            ))}
          </ul>
          {canWrite && attachable.length ? (
            <form method="post" action={`${base}/agents/${agent.id}/skills`} class="row">
              <label>
                Attach a skill
                <select name="skillId">
                  {attachable.map((s) => (
                    <option value={s.id}>{`${s.name}${s.builtIn ? " (built-in)" : ""}`}</option>
                  ))}
                </select>
              </label>
              <button type="submit">Attach</button>
            </form>
          ) : null}
        </section>
        {canWrite ? (
          <section aria-labelledby="danger-h" class="danger-zone">
            <h2 id="danger-h">Delete</h2>
            <p>Deleting an agent removes its conversations and memory. Usage records stay.</p>
            <ConfirmButton action={`${base}/agents/${agent.id}/delete`} label="Delete agent" confirm={`Delete ${agent.name}? This cannot be undone.`} />
          </section>
        ) : null}
      </Layout>,
      status as 200,
    );
  };

  app.get("/orgs/:orgId/agents/:agentId", orgPage(api, (c, view) => renderEdit(c, view)));
  app.post(
    "/orgs/:orgId/agents/:agentId",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody({ all: true });
      const { body, error } = agentBody(form);
      const echo = { ...(body as Partial<Agent>), metadataText: field(form, "metadata") };
      if (error) return renderEdit(c, view, echo, error, 400);
      // An emptied metadata box clears it; a blank temperature keeps the current one.
      if (body.metadata === undefined) body.metadata = {};
      const path = `/v1/orgs/${view.org.id}/agents/${c.req.param("agentId")}`;
      const result = await callApi(api, c, "PATCH", path, { body });
      if (!result.ok) return apiFailure(c, view, result) ?? renderEdit(c, view, echo, result.error?.message, result.status);
      return done(c, `/orgs/${view.org.id}/agents/${result.body.id}`, "Saved.");
    }),
  );

  app.post(
    "/orgs/:orgId/agents/:agentId/delete",
    orgPage(api, async (c, view) => {
      const result = await callApi(api, c, "DELETE", `/v1/orgs/${view.org.id}/agents/${c.req.param("agentId")}`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, `/orgs/${view.org.id}/agents`, result);
      return done(c, `/orgs/${view.org.id}/agents`, "Agent deleted.");
    }),
  );

  app.post(
    "/orgs/:orgId/agents/:agentId/skills",
    orgPage(api, async (c, view) => {
      const agentPath = `/orgs/${view.org.id}/agents/${c.req.param("agentId")}`;
      const skillId = field(await c.req.parseBody(), "skillId");
      const result = await callApi(api, c, "PUT", `/v1${agentPath}/skills/${encodeURIComponent(skillId)}`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, agentPath, result);
      return done(c, agentPath, "Skill attached.");
    }),
  );

  app.post(
    "/orgs/:orgId/agents/:agentId/skills/:skillId/detach",
    orgPage(api, async (c, view) => {
      const agentPath = `/orgs/${view.org.id}/agents/${c.req.param("agentId")}`;
      const result = await callApi(api, c, "DELETE", `/v1${agentPath}/skills/${encodeURIComponent(c.req.param("skillId") ?? "")}`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, agentPath, result);
      return done(c, agentPath, "Skill detached.");
    }),
  );
}
