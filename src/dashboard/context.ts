import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { SESSION_COOKIE } from "../http/auth";
import type { AppEnv, Permission, Role } from "../http/context";
import { permissionsOfRole } from "../http/permissions";
import { type ApiApp, callApi } from "./api";
import { redirectTo } from "./redirect";

export interface OrgSummary {
  id: string;
  name: string;
  role: Role;
  plan: string;
}

/** The signed-in user, as `GET /v1/me` describes them. */
export interface Viewer {
  user: { id: string; email: string; name: string | null };
  orgs: OrgSummary[];
  flash: Flash | null;
  /** An operator of the instance (OPENPAW_OPERATOR_EMAILS): sees the operator page. */
  operator: boolean;
}

/** A viewer inside one of their orgs: what the page may offer follows the role's permissions. */
export interface OrgView extends Viewer {
  org: OrgSummary;
  can(permission: Permission): boolean;
}

export interface Flash {
  kind: "ok" | "error";
  text: string;
}

const FLASH_COOKIE = "openpaw_flash";

/** A one-time message for the page a redirect leads to (survives the redirect, then is cleared). */
export function setFlash(c: Context<AppEnv>, flash: Flash): void {
  setCookie(c, FLASH_COOKIE, encodeURIComponent(JSON.stringify(flash)), { path: "/", httpOnly: true, sameSite: "Lax", maxAge: 60 });
}

function takeFlash(c: Context<AppEnv>): Flash | null {
  const raw = getCookie(c, FLASH_COOKIE);
  if (!raw) return null;
  deleteCookie(c, FLASH_COOKIE, { path: "/" });
  try {
    const value = JSON.parse(decodeURIComponent(raw)) as Flash;
    return value && (value.kind === "ok" || value.kind === "error") && typeof value.text === "string" ? value : null;
  } catch {
    return null;
  }
}

/** Where to send an anonymous visitor: the login page, coming back here afterwards. */
export function loginRedirect(c: Context<AppEnv>): Response {
  const url = new URL(c.req.url);
  const next = c.req.method === "GET" ? url.pathname + url.search : "/";
  return redirectTo(c, `/login?next=${encodeURIComponent(next)}`);
}

/** The signed-in viewer, or a redirect to /login when there is no valid session. */
export async function loadViewer(api: ApiApp, c: Context<AppEnv>): Promise<Viewer | Response> {
  if (!getCookie(c, SESSION_COOKIE)) return loginRedirect(c);
  const me = await callApi(api, c, "GET", "/v1/me");
  // 404: on a custom domain whose org this user is not (or no longer) a member of.
  if (me.status === 401 || me.status === 404) {
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return loginRedirect(c);
  }
  if (!me.ok) throw new Error(`GET /v1/me failed: ${me.status}`);
  let orgs = me.body.orgs as OrgSummary[];
  // On a custom domain only that domain's org exists (the API refuses the others anyway).
  const hostOrgId = c.var.hostOrgId;
  if (hostOrgId) orgs = orgs.filter((o) => o.id === hostOrgId);
  return { user: me.body.user, orgs, flash: takeFlash(c), operator: me.body.operator === true };
}

/** The viewer inside `orgId`, or null when they are not a member (the page then answers 404). */
export function orgViewOf(viewer: Viewer, orgId: string): OrgView | null {
  const org = viewer.orgs.find((o) => o.id === orgId);
  if (!org) return null;
  const permissions = permissionsOfRole(org.role);
  return { ...viewer, org, can: (p) => permissions.has(p) };
}
