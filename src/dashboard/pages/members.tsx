import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { type ApiApp, callApi } from "../api";
import type { OrgView } from "../context";
import { type Dashboard, apiErrorPage, apiFailure, done, failed, field, orgPage } from "../page";
import { ConfirmButton, ErrorNote, Layout, fmt } from "../ui";

interface Member {
  userId: string;
  email: string;
  name: string | null;
  role: "owner" | "admin" | "member";
  createdAt: string;
}

const ROLES = ["owner", "admin", "member"] as const;

/** Members: list; owners add by email, change roles and remove; anyone may leave. */
export function registerMemberPages(app: Dashboard, api: ApiApp) {
  const render = async (c: Context<AppEnv>, view: OrgView, error?: string, status = 200) => {
    const base = `/orgs/${view.org.id}`;
    const result = await callApi(api, c, "GET", `/v1${base}/members`);
    if (!result.ok) return apiErrorPage(c, view, result);
    const members = result.body.data as Member[];
    const isOwner = view.can("owner");
    return c.html(
      <Layout view={view} title="Members" active="Members">
        <ErrorNote error={error} />
        <table>
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">Role</th>
              <th scope="col">Joined</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.map((m) => {
              const self = m.userId === view.user.id;
              return (
                <tr>
                  <td>
                    {m.name ? `${m.name} · ` : ""}
                    {m.email} {self ? <span class="badge">you</span> : null}
                  </td>
                  <td>
                    {isOwner ? (
                      <form method="post" action={`${base}/members/${m.userId}/role`} class="row compact">
                        <label>
                          <span class="visually-hidden">Role of {m.email}</span>
                          <select name="role">
                            {ROLES.map((r) => (
                              <option value={r} selected={r === m.role}>
                                {r}
                              </option>
                            ))}
                          </select>
                        </label>
                        <button type="submit" class="secondary">
                          Change
                        </button>
                      </form>
                    ) : (
                      m.role
                    )}
                  </td>
                  <td>{fmt.date(m.createdAt)}</td>
                  <td>
                    {isOwner || self ? (
                      <ConfirmButton
                        action={`${base}/members/${m.userId}/remove`}
                        label={self ? "Leave" : "Remove"}
                        confirm={self ? "Leave this organization?" : `Remove ${m.email} from this organization?`}
                      />
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {isOwner ? (
          <>
            <h2>Add a member</h2>
            <p class="muted small">They need an account on this server already.</p>
            <form method="post" action={`${base}/members`} class="row">
              <label>
                Email
                <input type="email" name="email" required />
              </label>
              <label>
                Role
                <select name="role">
                  <option value="member">member</option>
                  <option value="admin">admin</option>
                  <option value="owner">owner</option>
                </select>
              </label>
              <button type="submit" class="primary">
                Add
              </button>
            </form>
          </>
        ) : null}
      </Layout>,
      status as 200,
    );
  };

  app.get("/orgs/:orgId/members", orgPage(api, (c, view) => render(c, view)));
  app.post(
    "/orgs/:orgId/members",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody();
      const result = await callApi(api, c, "POST", `/v1/orgs/${view.org.id}/members`, {
        body: { email: field(form, "email").trim(), role: field(form, "role") || "member" },
      });
      if (!result.ok) return render(c, view, result.error?.message, result.status);
      return done(c, `/orgs/${view.org.id}/members`, `Added ${result.body.email}.`);
    }),
  );
  app.post(
    "/orgs/:orgId/members/:userId/role",
    orgPage(api, async (c, view) => {
      const page = `/orgs/${view.org.id}/members`;
      const role = field(await c.req.parseBody(), "role");
      const result = await callApi(api, c, "PATCH", `/v1${page}/${encodeURIComponent(c.req.param("userId") ?? "")}`, { body: { role } });
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, page, result);
      return done(c, page, `Role changed to ${role}.`);
    }),
  );
  app.post(
    "/orgs/:orgId/members/:userId/remove",
    orgPage(api, async (c, view) => {
      const page = `/orgs/${view.org.id}/members`;
      const userId = c.req.param("userId") ?? "";
      const result = await callApi(api, c, "DELETE", `/v1${page}/${encodeURIComponent(userId)}`);
      if (!result.ok) return apiFailure(c, view, result) ?? failed(c, page, result);
      return userId === view.user.id ? done(c, "/", "You left the organization.") : done(c, page, "Member removed.");
    }),
  );
}
