import type { Context } from "hono";
import type { AppEnv } from "../http/context";

/**
 * Where a redirect to `target` may lead: `target` is parsed as a URL against this site, as a
 * browser would (tabs and newlines stripped, backslashes read as slashes, any encoding), and kept
 * only when it stays on this site; anything else leads home. The result is URL serialisation
 * (pathname, query, fragment), so it can carry no control character into a header.
 */
export function sameSitePath(c: Context<AppEnv>, target: string): string {
  const origin = new URL(c.req.url).origin;
  try {
    const url = new URL(target, `${origin}/`);
    if (url.origin === origin) return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    // Not a URL at all: home.
  }
  return "/";
}

/** The dashboard's one way of redirecting within itself (303: a reload does not repost). */
export function redirectTo(c: Context<AppEnv>, target: string): Response {
  return c.redirect(sameSitePath(c, target), 303);
}

/**
 * A redirect to another site the API chose (Stripe's checkout and portal pages): only http(s),
 * serialised by URL so it is header-safe; anything else goes to `fallback` on this site.
 */
export function redirectOffSite(c: Context<AppEnv>, target: string, fallback: string): Response {
  try {
    const url = new URL(target);
    if (url.protocol === "https:" || url.protocol === "http:") return c.redirect(url.href, 303);
  } catch {
    // Fall through.
  }
  return redirectTo(c, fallback);
}
