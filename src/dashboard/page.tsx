import type { Context, Hono } from "hono";
import type { AppEnv } from "../http/context";
import type { ApiApp, ApiResult } from "./api";
import { type OrgView, type Viewer, loadViewer, loginRedirect, orgViewOf, setFlash } from "./context";
import { redirectTo } from "./redirect";
import { Layout } from "./ui";

export type Dashboard = Hono<AppEnv>;
/** What a handler answers: c.html may render asynchronously. */
export type Answer = Response | Promise<Response>;
type OrgHandler = (c: Context<AppEnv>, view: OrgView) => Answer;

/** The 404 page: also what another org's ids get, so they never learn the resource exists. */
export function notFoundPage(c: Context<AppEnv>, viewer: Viewer): Answer {
  return c.html(
    <Layout view={viewer} title="Not found">
      <p>There is nothing here, or you do not have access to it.</p>
      <p>
        <a href="/">Back to the dashboard</a>
      </p>
    </Layout>,
    404,
  );
}

/** Wraps a handler of `/orgs/:orgId/...`: a session is required and the viewer must be a member. */
export function orgPage(api: ApiApp, handler: OrgHandler) {
  return async (c: Context<AppEnv>) => {
    const viewer = await loadViewer(api, c);
    if (viewer instanceof Response) return viewer;
    const view = orgViewOf(viewer, c.req.param("orgId") ?? "");
    if (!view) return notFoundPage(c, viewer);
    return handler(c, view);
  };
}

/**
 * The page's answer to a failed API call it cannot show inline: login for 401, the 404 page for
 * 404 (another org's ids), null for the rest (shown next to the form).
 */
export function apiFailure(c: Context<AppEnv>, view: Viewer, result: ApiResult): Answer | null {
  if (result.status === 401) return loginRedirect(c);
  if (result.status === 404) return notFoundPage(c, view);
  return null;
}

/** After a successful POST: back to a page (303, so a reload does not repost) with a message. */
export function done(c: Context<AppEnv>, to: string, text: string): Response {
  setFlash(c, { kind: "ok", text });
  return redirectTo(c, to);
}

/** After a failed POST whose page is elsewhere: there, with the API's reason. */
export function failed(c: Context<AppEnv>, to: string, result: ApiResult): Response {
  setFlash(c, { kind: "error", text: result.error?.message ?? "The request failed." });
  return redirectTo(c, to);
}

/** A form field as a string ("" when absent or a file). */
export function field(form: Record<string, unknown>, name: string): string {
  const value = form[name];
  return typeof value === "string" ? value : "";
}

/** All values of a repeated field (checkboxes). */
export function fields(form: Record<string, unknown>, name: string): string[] {
  const value = form[name];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return typeof value === "string" ? [value] : [];
}

/** A page for a failed API call: login, 404, or the API's message with its status. */
export function apiErrorPage(c: Context<AppEnv>, view: OrgView, result: ApiResult): Answer {
  return (
    apiFailure(c, view, result) ??
    c.html(
      <Layout view={view} title="Something went wrong">
        <p role="alert">{result.error?.message ?? "The request failed."}</p>
      </Layout>,
      result.status as 500,
    )
  );
}

/** For fragments polled in the background: only a lost session needs an answer (a redirect). */
export function loginOnly(c: Context<AppEnv>, result: ApiResult): Response | null {
  return result.status === 401 ? loginRedirect(c) : null;
}
