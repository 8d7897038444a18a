import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { type ApiApp, type ApiResult, callApi } from "../api";
import type { OrgView } from "../context";
import { type Dashboard, apiErrorPage, apiFailure, done, failed, field, orgPage } from "../page";
import { ConfirmButton, ErrorNote, Layout } from "../ui";

interface Skill {
  id: string;
  name: string;
  description: string;
  content: string;
  files: Array<{ name: string; content: string }>;
  builtIn: boolean;
}

/** An uploaded SKILL.md goes to the API as text/markdown (its front matter names it); else the fields as JSON. */
async function sendSkill(api: ApiApp, c: Context<AppEnv>, method: "POST" | "PATCH", path: string, form: Record<string, unknown>): Promise<ApiResult> {
  const upload = form.skillFile;
  if (upload instanceof File && upload.size > 0) {
    return callApi(api, c, method, path, { raw: { data: await upload.text(), contentType: "text/markdown" } });
  }
  const body: Record<string, string> = { description: field(form, "description"), content: field(form, "content") };
  if (method === "POST" || field(form, "name")) body.name = field(form, "name");
  return callApi(api, c, method, path, { body });
}

function SkillForm(props: { action: string; skill: Partial<Skill>; submit: string; readOnly: boolean }) {
  const s = props.skill;
  return (
    <form method="post" action={props.action} enctype="multipart/form-data" class="stack">
      <fieldset disabled={props.readOnly}>
        <label>
          Name <span class="muted small">(slug: lowercase letters, digits, dashes)</span>
          <input type="text" name="name" pattern="[a-z0-9][a-z0-9\-]{0,63}" maxlength={64} value={s.name ?? ""} />
        </label>
        <label>
          Description <span class="muted small">(when the agent should use it)</span>
          <input type="text" name="description" maxlength={1024} value={s.description ?? ""} />
        </label>
        <label>
          Instructions (Markdown)
          <textarea name="content" rows={16} class="mono">
            {s.content ?? ""}
          </textarea>
        </label>
        {props.readOnly ? null : (
          <>
            <label>
              Or upload a SKILL.md <span class="muted small">(front matter with name and description; replaces the fields above)</span>
              <input type="file" name="skillFile" accept=".md,text/markdown" />
            </label>
            <button type="submit" class="primary">
              {props.submit}
            </button>
          </>
        )}
      </fieldset>
    </form>
  );
}

/** Skills: built-in (read only) and the org's custom ones. */
export function registerSkillPages(app: Dashboard, api: ApiApp) {
  app.get(
    "/orgs/:orgId/skills",
    orgPage(api, async (c, view) => {
      const base = `/orgs/${view.org.id}`;
      const result = await callApi(api, c, "GET", `/v1${base}/skills`);
      if (!result.ok) return apiErrorPage(c, view, result);
      const skills = result.body.data as Skill[];
      const group = (builtIn: boolean) => skills.filter((s) => s.builtIn === builtIn);
      const Table = (props: { items: Skill[] }) =>
        props.items.length === 0 ? (
          <p class="empty">None yet.</p>
        ) : (
          <ul class="list">
            {props.items.map((s) => (
              <li>
                <a href={`${base}/skills/${s.id}`}>
                  <strong>{s.name}</strong>
                </a>{" "}
                <span class="muted small">{s.description}</span>
              </li>
            ))}
          </ul>
        );
      return c.html(
        <Layout view={view} title="Skills" active="Skills">
          {view.can("write") ? (
            <p>
              <a class="button primary" href={`${base}/skills/new`}>
                New skill
              </a>
            </p>
          ) : null}
          <h2>Custom</h2>
          <Table items={group(false)} />
          <h2>Built-in</h2>
          <Table items={group(true)} />
        </Layout>,
      );
    }),
  );

  const renderNew = (c: Context<AppEnv>, view: OrgView, skill: Partial<Skill> = {}, error?: string, status = 200) =>
    c.html(
      <Layout view={view} title="New skill" active="Skills">
        <ErrorNote error={error} />
        <SkillForm action={`/orgs/${view.org.id}/skills`} skill={skill} submit="Create skill" readOnly={!view.can("write")} />
      </Layout>,
      status as 200,
    );

  app.get("/orgs/:orgId/skills/new", orgPage(api, (c, view) => renderNew(c, view)));
  app.post(
    "/orgs/:orgId/skills",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody();
      const result = await sendSkill(api, c, "POST", `/v1/orgs/${view.org.id}/skills`, form);
      const echo = { name: field(form, "name"), description: field(form, "description"), content: field(form, "content") };
      if (!result.ok) return apiFailure(c, view, result) ?? renderNew(c, view, echo, result.error?.message, result.status);
      return done(c, `/orgs/${view.org.id}/skills/${result.body.id}`, `Created skill ${result.body.name}.`);
    }),
  );

  const renderSkill = async (c: Context<AppEnv>, view: OrgView, override?: Partial<Skill>, error?: string, status = 200) => {
    const path = `/orgs/${view.org.id}/skills/${encodeURIComponent(c.req.param("skillId") ?? "")}`;
    const result = await callApi(api, c, "GET", `/v1${path}`);
    if (!result.ok) return apiErrorPage(c, view, result);
    const skill = result.body as Skill;
    const editable = !skill.builtIn && view.can("write");
    return c.html(
      <Layout view={view} title={skill.name} active="Skills">
        <p>
          <a href={`/orgs/${view.org.id}/skills`}>← Skills</a> {skill.builtIn ? <span class="badge">built-in, read only</span> : null}
        </p>
        <ErrorNote error={error} />
        <SkillForm action={path} skill={{ ...skill, ...override }} submit="Save skill" readOnly={!editable} />
        {skill.files.length ? (
          <section>
            <h2>Companion files</h2>
            {skill.files.map((f) => (
              <details>
                <summary>{f.name}</summary>
                <pre>{f.content}</pre>
              </details>
            ))}
          </section>
        ) : null}
        {editable ? (
          <section class="danger-zone">
            <h2>Delete</h2>
            <ConfirmButton action={`${path}/delete`} label="Delete skill" confirm={`Delete ${skill.name}? Agents using it lose it.`} />
          </section>
        ) : null}
      </Layout>,
      status as 200,
    );
  };

  app.get("/orgs/:orgId/skills/:skillId", orgPage(api, (c, view) => renderSkill(c, view)));
  app.post(
    "/orgs/:orgId/skills/:skillId",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody();
      const path = `/orgs/${view.org.id}/skills/${encodeURIComponent(c.req.param("skillId") ?? "")}`;
      const result = await sendSkill(api, c, "PATCH", `/v1${path}`, form);
      const echo = { name: field(form, "name"), description: field(form, "description"), content: field(form, "content") };
      if (!result.ok) return apiFailure(c, view, result) ?? renderSkill(c, view, echo, result.error?.message, result.status);
      return done(c, path, "Skill saved.");
    }),
  );
  app.post(
    "/orgs/:orgId/skills/:skillId/delete",
    orgPage(api, async (c, view) => {
      const result = await callApi(api, c, "DELETE", `/v1/orgs/${view.org.id}/skills/${encodeURIComponent(c.req.param("skillId") ?? "")}`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, `/orgs/${view.org.id}/skills`, result);
      return done(c, `/orgs/${view.org.id}/skills`, "Skill deleted.");
    }),
  );
}
