import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { type ApiApp, type ApiResult, callApi } from "../api";
import { loadViewer, setFlash } from "../context";
import { redirectTo, sameSitePath } from "../redirect";
import { type Dashboard, field } from "../page";
import { ErrorNote, Layout, PublicLayout } from "../ui";


/** The API set the session cookie on its response; the browser gets it on ours. */
function passCookies(c: Context<AppEnv>, result: ApiResult): void {
  for (const cookie of result.headers.getSetCookie()) c.header("Set-Cookie", cookie, { append: true });
}

function LoginForm(props: { next: string; email?: string; error?: string }) {
  return (
    <PublicLayout title="Log in">
      <ErrorNote error={props.error} />
      <form method="post" action="/login" class="stack">
        <input type="hidden" name="next" value={props.next} />
        <label>
          Email
          <input type="email" name="email" required autocomplete="email" value={props.email ?? ""} autofocus />
        </label>
        <label>
          Password
          <input type="password" name="password" required autocomplete="current-password" />
        </label>
        <button type="submit" class="primary">
          Log in
        </button>
      </form>
      <p>
        New here? <a href="/signup">Create an account</a>
      </p>
    </PublicLayout>
  );
}

function SignupForm(props: { values?: Record<string, string>; error?: string }) {
  const v = props.values ?? {};
  return (
    <PublicLayout title="Create your account">
      <ErrorNote error={props.error} />
      <form method="post" action="/signup" class="stack">
        <label>
          Name <span class="muted">(optional)</span>
          <input type="text" name="name" autocomplete="name" maxlength={100} value={v.name ?? ""} />
        </label>
        <label>
          Email
          <input type="email" name="email" required autocomplete="email" value={v.email ?? ""} />
        </label>
        <label>
          Password <span class="muted">(at least 8 characters)</span>
          <input type="password" name="password" required minlength={8} autocomplete="new-password" />
        </label>
        <label>
          Organization name <span class="muted">(optional)</span>
          <input type="text" name="orgName" maxlength={100} value={v.orgName ?? ""} />
        </label>
        <button type="submit" class="primary">
          Sign up
        </button>
      </form>
      <p>
        Already have an account? <a href="/login">Log in</a>
      </p>
    </PublicLayout>
  );
}

/** Sign up, log in, log out, the home redirect and creating an org. */
export function registerAccountPages(app: Dashboard, api: ApiApp) {
  app.get("/", async (c) => {
    const viewer = await loadViewer(api, c);
    if (viewer instanceof Response) return viewer;
    const first = viewer.orgs[0];
    return redirectTo(c, first ? `/orgs/${first.id}/agents` : "/orgs/new");
  });

  // Only paths of this site are followed after login (an open redirect would help phishing).
  app.get("/login", (c) => c.html(<LoginForm next={sameSitePath(c, c.req.query("next") ?? "/")} />));
  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const next = sameSitePath(c, field(form, "next") || "/");
    const email = field(form, "email");
    const result = await callApi(api, c, "POST", "/v1/auth/login", { body: { email, password: field(form, "password") } });
    if (!result.ok) return c.html(<LoginForm next={next} email={email} error={result.error?.message} />, result.status as 401);
    passCookies(c, result);
    return redirectTo(c, next);
  });

  app.get("/signup", (c) => c.html(<SignupForm />));
  app.post("/signup", async (c) => {
    const form = await c.req.parseBody();
    const values = { name: field(form, "name").trim(), email: field(form, "email").trim(), orgName: field(form, "orgName").trim() };
    const body: Record<string, string> = { email: values.email, password: field(form, "password") };
    if (values.name) body.name = values.name;
    if (values.orgName) body.orgName = values.orgName;
    const result = await callApi(api, c, "POST", "/v1/auth/signup", { body });
    if (!result.ok) return c.html(<SignupForm values={values} error={result.error?.message} />, result.status as 400);
    passCookies(c, result);
    setFlash(c, { kind: "ok", text: "Welcome! Create your first agent." });
    return redirectTo(c, `/orgs/${result.body.org.id}/agents`);
  });

  app.post("/logout", async (c) => {
    const result = await callApi(api, c, "POST", "/v1/auth/logout");
    passCookies(c, result);
    return redirectTo(c, "/login");
  });

  const NewOrg = (props: { viewer: Exclude<Awaited<ReturnType<typeof loadViewer>>, Response>; name?: string; error?: string }) => (
    <Layout view={props.viewer} title="New organization">
      <ErrorNote error={props.error} />
      <form method="post" action="/orgs" class="stack narrow">
        <label>
          Name
          <input type="text" name="name" required maxlength={100} value={props.name ?? ""} />
        </label>
        <button type="submit" class="primary">
          Create organization
        </button>
      </form>
    </Layout>
  );

  app.get("/orgs/new", async (c) => {
    const viewer = await loadViewer(api, c);
    if (viewer instanceof Response) return viewer;
    return c.html(<NewOrg viewer={viewer} />);
  });
  app.get("/orgs", (c) => redirectTo(c, "/"));
  app.post("/orgs", async (c) => {
    const viewer = await loadViewer(api, c);
    if (viewer instanceof Response) return viewer;
    const name = field(await c.req.parseBody(), "name");
    const result = await callApi(api, c, "POST", "/v1/orgs", { body: { name } });
    if (!result.ok) return c.html(<NewOrg viewer={viewer} name={name} error={result.error?.message} />, result.status as 400);
    setFlash(c, { kind: "ok", text: `Created ${result.body.name}.` });
    return redirectTo(c, `/orgs/${result.body.id}/agents`);
  });
}
