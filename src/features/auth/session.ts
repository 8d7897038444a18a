import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../../http/context";
import { SESSION_COOKIE } from "../../http/auth";
import { randomBase62 } from "../../lib/ids";
import { sha256Hex } from "../api-keys/key-format";
import { insertSession } from "./repository";

/** True when the client reached us over https (directly, through the public URL, or a trusted proxy). */
export function isHttps(c: Context<AppEnv>): boolean {
  const { config } = c.var.services;
  if (config.security.trustProxy && c.req.header("x-forwarded-proto")?.split(",")[0].trim() === "https") return true;
  return new URL(c.req.url).protocol === "https:" || config.publicUrl.startsWith("https:");
}

/**
 * Starts a new session (always a fresh random token, so a planted cookie is never adopted) and
 * sets the cookie: HttpOnly, SameSite=Lax, Path=/, Secure over https.
 */
export async function startSession(c: Context<AppEnv>, userId: string): Promise<void> {
  const { db, config } = c.var.services;
  const token = randomBase62(43);
  const now = Date.now();
  await insertSession(db.kysely, { id: await sha256Hex(token), userId, createdAt: now, expiresAt: now + config.security.sessionTtlMs });
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "Lax",
    path: "/",
    secure: isHttps(c),
    maxAge: Math.floor(config.security.sessionTtlMs / 1000),
  });
}

/** Clears the session cookie in the browser. */
export function clearSessionCookie(c: Context<AppEnv>): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: isHttps(c), httpOnly: true, sameSite: "Lax" });
}
