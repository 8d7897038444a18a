import type { Child } from "hono/jsx";
import { assetUrl } from "./assets";
import type { Flash, OrgView, Viewer } from "./context";

/**
 * htmx settings: no inline indicator styles (the CSP forbids inline styles), no eval, and error
 * responses are swapped too, because the dashboard answers a failed form with the form and its error.
 */
const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  historyCacheSize: 0,
  responseHandling: [
    { code: "204", swap: false },
    { code: "...", swap: true },
  ],
});

function Head(props: { title: string }) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      <meta name="htmx-config" content={HTMX_CONFIG} />
      <title>{`${props.title} · OpenPaw`}</title>
      <link rel="icon" href={assetUrl("logo.svg")} type="image/svg+xml" />
      <link rel="stylesheet" href={assetUrl("app.css")} />
      <script src={assetUrl("htmx.min.js")} defer></script>
      <script src={assetUrl("app.js")} defer></script>
    </head>
  );
}

export function FlashNote(props: { flash: Flash | null }) {
  if (!props.flash) return null;
  return (
    <p class={`flash flash-${props.flash.kind}`} role={props.flash.kind === "error" ? "alert" : "status"}>
      {props.flash.text}
    </p>
  );
}

export function ErrorNote(props: { error?: string | null }) {
  return props.error ? (
    <p class="flash flash-error" role="alert">
      {props.error}
    </p>
  ) : null;
}

/** The mark: an SVG file of our own, so it shows on every system (an emoji needs an emoji font). */
export function Logo() {
  return (
    <>
      <img class="logo" src={assetUrl("logo.svg")} alt="" width={24} height={24} /> OpenPaw
    </>
  );
}

/** Pages for visitors without a session: sign up, log in. */
export function PublicLayout(props: { title: string; children?: Child }) {
  return (
    <html lang="en">
      <Head title={props.title} />
      {/* No attributes but hx-boost on <body>: a boosted swap replaces its content, not its attributes. */}
      <body hx-boost="true">
        <div class="public">
          <main class="auth-card">
            <p class="brand">
              <Logo />
            </p>
            <h1>{props.title}</h1>
            {props.children}
          </main>
        </div>
      </body>
    </html>
  );
}

type Section = { href: string; label: string; show: boolean };

function sections(view: OrgView): Section[] {
  const base = `/orgs/${view.org.id}`;
  return [
    { href: `${base}/agents`, label: "Agents", show: true },
    { href: `${base}/playground`, label: "Playground", show: view.can("chat") },
    { href: `${base}/runs`, label: "Runs", show: true },
    { href: `${base}/skills`, label: "Skills", show: true },
    { href: `${base}/api-keys`, label: "API keys", show: view.can("admin") },
    { href: `${base}/usage`, label: "Usage", show: true },
    { href: `${base}/schedules`, label: "Schedules", show: true },
    { href: `${base}/webhooks`, label: "Webhooks", show: true },
    { href: `${base}/billing`, label: "Billing", show: true },
    { href: `${base}/domain`, label: "Domain", show: true },
    { href: `${base}/files`, label: "Files", show: true },
    { href: `${base}/tools`, label: "Tools", show: true },
    { href: `${base}/members`, label: "Members", show: true },
  ];
}

/** The signed-in shell: org switcher, sections the role may use, the page. */
export function Layout(props: { view: Viewer & Partial<OrgView>; title: string; active?: string; children?: Child }) {
  const { view } = props;
  const org = view.org;
  return (
    <html lang="en">
      <Head title={props.title} />
      <body hx-boost="true">
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="topbar">
          <a class="brand" href="/">
            <Logo />
          </a>
          <details class="switcher">
            <summary>
              <span class="visually-hidden">Organization: </span>
              {org ? org.name : "Choose an organization"}
            </summary>
            <ul>
              {view.orgs.map((o) => (
                <li>
                  <a href={`/orgs/${o.id}/agents`} aria-current={o.id === org?.id ? "true" : undefined}>
                    {o.name} <span class="muted">({o.role})</span>
                  </a>
                </li>
              ))}
              <li>
                <a href="/orgs/new">+ New organization</a>
              </li>
            </ul>
          </details>
          <span class="spacer"></span>
          {view.operator ? (
            <a href="/operator" aria-current={props.active === "Operator" ? "page" : undefined}>
              Operator
            </a>
          ) : null}
          <a href="/docs">API docs</a>
          <span class="muted user">{view.user.email}</span>
          <form method="post" action="/logout">
            <button type="submit" class="link">
              Log out
            </button>
          </form>
        </header>
        {/* Without an org there is no sidebar: the page takes the whole width. */}
        <div class={org ? "shell" : "shell no-sidebar"}>
          {org ? (
            <nav class="sidebar" aria-label="Sections">
              <ul>
                {sections(view as OrgView)
                  .filter((s) => s.show)
                  .map((s) => (
                    <li>
                      <a href={s.href} aria-current={props.active === s.label ? "page" : undefined}>
                        {s.label}
                      </a>
                    </li>
                  ))}
              </ul>
            </nav>
          ) : null}
          <main id="main" tabindex={-1}>
            <h1>{props.title}</h1>
            <FlashNote flash={view.flash} />
            {props.children}
          </main>
        </div>
      </body>
    </html>
  );
}

/** A POST button that asks first (htmx's hx-confirm, which uses the browser's own dialog). */
export function ConfirmButton(props: { action: string; label: string; confirm: string; fields?: Record<string, string>; class?: string }) {
  return (
    <form method="post" action={props.action} class="inline" hx-confirm={props.confirm}>
      {Object.entries(props.fields ?? {}).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <button type="submit" class={props.class ?? "danger"}>
        {props.label}
      </button>
    </form>
  );
}

/** Copies `value` to the clipboard (app.js); the value stays selectable for browsers without the API. */
export function CopyButton(props: { value: string; label?: string }) {
  return (
    <button type="button" class="copy" data-copy={props.value}>
      {props.label ?? "Copy"}
    </button>
  );
}

/** "1 tool call", "2 tool calls". */
export const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

export const fmt = {
  int: (n: number) => Math.round(n).toLocaleString("en-US"),
  usd: (n: number) => (n > 0 && n < 0.01 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`),
  date: (iso: string | null) => (iso ? iso.replace("T", " ").slice(0, 16) + " UTC" : "—"),
  bytes: (n: number) =>
    n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${(n / 1024 ** 3).toFixed(2)} GB`,
};
