import { Hono, type Context, type MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/context";
import { ApiError, errorEnvelope, errors } from "../http/errors";
import { csrfOriginCheck, limitBody } from "../http/middleware";
import type { ApiApp } from "./api";
import { assetRoutes } from "./assets";
import { registerAccountPages } from "./pages/account";
import { registerAgentPages } from "./pages/agents";
import { registerBillingPages } from "./pages/billing";
import { registerDocsPage } from "./pages/docs";
import { registerDomainPages } from "./pages/domain";
import { registerFilePages } from "./pages/files";
import { registerKeyPages } from "./pages/api-keys";
import { registerMemberPages } from "./pages/members";
import { registerMemoryPages } from "./pages/memory";
import { registerOperatorPages } from "./pages/operator";
import { registerPlaygroundPages } from "./pages/playground";
import { registerRunPages } from "./pages/runs";
import { registerSkillPages } from "./pages/skills";
import { registerToolPages } from "./pages/tools";
import { registerUsagePages } from "./pages/usage";
import { registerSchedulePages } from "./pages/schedules";
import { registerWebhookPages } from "./pages/webhooks";
import { PublicLayout } from "./ui";

/** The paths the dashboard owns; everything else (/v1, /openapi.json, /healthz, /internal...) is never touched. */
export const DASHBOARD_PATHS = ["/", "/login", "/signup", "/logout", "/orgs", "/orgs/*", "/operator", "/operator/*", "/docs", "/assets/*", "/favicon.ico"];

/**
 * CSP without 'unsafe-inline': every script and style is an external file of this origin, so an
 * injected tag or attribute cannot run. Framing is refused (clickjacking).
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join("; ");

function setPageHeaders(res: Response): void {
  res.headers.set("Content-Security-Policy", CSP);
  res.headers.set("X-Content-Type-Options", "nosniff");
  res.headers.set("Referrer-Policy", "same-origin");
  res.headers.set("X-Frame-Options", "DENY");
}

/**
 * The answer to a browser asking for a page that does not exist (a mistyped dashboard URL): an
 * HTML page, not the API's JSON envelope. API paths and non-browser clients keep the envelope.
 */
export function htmlNotFound(c: Context<AppEnv>): Response | null {
  const path = c.req.path;
  const browser = (c.req.method === "GET" || c.req.method === "HEAD") && /\btext\/html\b/.test(c.req.header("accept") ?? "");
  if (!browser || /^\/(v1|openai|mcp|internal)(\/|$)|^\/(openapi\.json|healthz|readyz)$/.test(path)) return null;
  const res = new Response(
    `<!doctype html>${(
      <PublicLayout title="Not found">
        <p>There is no page at this address.</p>
        <p>
          <a href="/">Back to the dashboard</a> · <a href="/docs">API reference</a>
        </p>
      </PublicLayout>
    ).toString()}`,
    { status: 404, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } },
  );
  setPageHeaders(res);
  return res;
}

const securityHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  c.res.headers.set("Content-Security-Policy", CSP);
  c.res.headers.set("X-Content-Type-Options", "nosniff");
  c.res.headers.set("Referrer-Policy", "same-origin");
  c.res.headers.set("X-Frame-Options", "DENY");
  if (!c.req.path.startsWith("/assets/")) c.res.headers.set("Cache-Control", "no-store");
};

/** A segment of a dashboard path: a literal (`api-keys`, `usage.csv`) or an id. */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

/**
 * Every segment of a dashboard path is checked before any page sees it, so route parameters are
 * always plain ids: a CR/LF can never reach a redirect and an encoded `../` never reaches an API
 * path, whichever page (including future ones) uses them.
 */
const plainSegments: MiddlewareHandler<AppEnv> = async (c, next) => {
  for (const raw of new URL(c.req.url).pathname.split("/").slice(1)) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      throw errors.notFound("Page");
    }
    if (!SEGMENT.test(segment)) throw errors.notFound("Page");
  }
  await next();
};

/** Dashboard POSTs get the API's protections: a body limit and the Origin check against CSRF. */
function formGuards(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method !== "POST") {
      await next();
      return;
    }
    const { config } = c.var.services;
    const isUpload = /^\/orgs\/[^/]+\/files$/.test(c.req.path);
    const limit = limitBody(isUpload ? config.limits.maxUploadBytes + 64 * 1024 : config.limits.maxBodyBytes);
    await csrfOriginCheck(config.publicUrl)(c, async () => {
      await limit(c, next);
    });
  };
}

/** An HTML page for failures; the API's error message when it is one (they never say anything internal). */
function errorPage(error: unknown, c: Context<AppEnv>): Response | Promise<Response> {
  const apiError = error instanceof ApiError ? error : null;
  if (!apiError) c.var.services.logger.error("dashboard error", { requestId: c.var.requestId, path: c.req.path, error });
  const status = apiError?.status ?? 500;
  const message = apiError?.message ?? `Something went wrong on our side. Request id: ${c.var.requestId}.`;
  if (apiError) for (const [name, value] of Object.entries(errorEnvelope(apiError, c.var.requestId).headers)) c.header(name, value);
  return c.html(
    <PublicLayout title={status === 404 ? "Not found" : "Something went wrong"}>
      <p role="alert">{message}</p>
      <p>
        <a href="/">Back to the dashboard</a>
      </p>
    </PublicLayout>,
    status as 500,
  );
}

/**
 * The dashboard: server-rendered pages at `/` for people, over the same API as everyone else
 * (called in process with the user's cookie; see callApi).
 */
export function dashboardRoutes(api: ApiApp) {
  const app = new Hono<AppEnv>();
  for (const path of DASHBOARD_PATHS) {
    app.use(path, securityHeaders);
    if (path.startsWith("/orgs/")) app.use(path, plainSegments);
    app.use(path, formGuards());
  }
  app.route("/", assetRoutes());
  registerAccountPages(app, api);
  registerAgentPages(app, api);
  registerPlaygroundPages(app, api);
  registerRunPages(app, api);
  registerMemoryPages(app, api);
  registerSkillPages(app, api);
  registerKeyPages(app, api);
  registerUsagePages(app, api);
  registerBillingPages(app, api);
  registerDomainPages(app, api);
  registerWebhookPages(app, api);
  registerSchedulePages(app, api);
  registerFilePages(app, api);
  registerToolPages(app, api);
  registerMemberPages(app, api);
  registerOperatorPages(app, api);
  registerDocsPage(app, api);
  app.onError(errorPage);
  return app;
}
