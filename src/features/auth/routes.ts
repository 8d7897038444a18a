import { z } from "@hono/zod-openapi";
import { getCookie } from "hono/cookie";
import type { Context } from "hono";
import { isUniqueViolation } from "../../db";
import { SESSION_COOKIE, requireUser } from "../../http/auth";
import { clientIp } from "../../http/client-ip";
import type { AppEnv } from "../../http/context";
import { errors } from "../../http/errors";
import { createRouter, iso, jsonBody, jsonResponse } from "../../http/openapi";
import { apiRoute } from "../../http/routes";
import { newId } from "../../lib/ids";
import { sha256Hex } from "../api-keys/key-format";
import { isOperator } from "../operator/routes";
import { insertOrgWithOwner, listOrgsOfUser } from "../orgs/repository";
import { serializeOrg } from "../orgs/serialize";
import { hashPassword, verifyPassword } from "./password";
import { deleteSession, findUserByEmail, findUserById, insertUser } from "./repository";
import { LoginBody, OrgSchema, OrgSummarySchema, SignupBody, UserSchema } from "./schemas";
import { clearSessionCookie, startSession } from "./session";

const tags = ["Accounts"];

export const serializeUser = (u: { id: string; email: string; name: string | null; created_at: number }) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  createdAt: iso(u.created_at),
});

async function limitAuthAttempts(c: Context<AppEnv>, email: string): Promise<void> {
  const { limits } = c.var.services;
  for (const [limiter, key] of [
    [limits.authByIp, clientIp(c)],
    [limits.authByEmail, email],
  ] as const) {
    const result = await limiter.consume(key);
    if (!result.ok) throw errors.rateLimited(result.retryAfterSeconds, "Too many sign-in attempts; retry later.");
  }
}

/** A hash to verify against when the email is unknown, so both failures take the same time. */
let decoyHash: Promise<string> | null = null;

const tooManyAttempts = "Too many sign-in or sign-up attempts from this address or for this email (`rate_limited`); `Retry-After` says when";

const signup = apiRoute({
  method: "post",
  path: "/v1/auth/signup",
  operationId: "auth.signup",
  tags,
  summary: "Create an account and its first organization",
  description:
    "Creates the user, an organization (named `orgName`, or after the user) with the user as its owner, and signs in: the answer sets the session cookie. " +
    "Closed when the deployment sets `OPENPAW_SIGNUP=closed`.",
  audience: "public",
  request: { body: jsonBody(SignupBody) },
  responses: { 201: jsonResponse(z.object({ user: UserSchema, org: OrgSchema }), "The new user and org; sets the session cookie") },
  errors: { 403: "Sign-up is closed on this deployment (`signup_closed`)", 409: "An account with this email already exists (`already_exists`)", 429: tooManyAttempts },
});

const login = apiRoute({
  method: "post",
  path: "/v1/auth/login",
  operationId: "auth.login",
  tags,
  summary: "Sign in",
  description: "Checks the email and password and starts a session (the answer sets the session cookie). On a custom domain only members of its organization can sign in.",
  audience: "public",
  request: { body: jsonBody(LoginBody) },
  responses: { 200: jsonResponse(z.object({ user: UserSchema, orgs: z.array(OrgSummarySchema) }), "Signed in; sets the session cookie") },
  errors: { 401: "Incorrect email or password (`invalid_credentials`)", 429: tooManyAttempts },
});

const logout = apiRoute({
  method: "post",
  path: "/v1/auth/logout",
  operationId: "auth.logout",
  tags,
  summary: "Sign out (ends the session)",
  description: "Ends the session of the cookie sent, if any, and clears the cookie. Answers 204 with or without a session.",
  audience: "public",
  responses: { 204: { description: "Signed out" } },
});

const me = apiRoute({
  method: "get",
  path: "/v1/me",
  operationId: "auth.me",
  tags,
  summary: "The signed-in user and their orgs",
  description: "The user of the session, the organizations they belong to (on a custom domain, only its organization) and whether they operate this instance.",
  audience: "user",
  responses: {
    200: jsonResponse(
      z.object({
        user: UserSchema,
        orgs: z.array(OrgSummarySchema),
        operator: z.boolean().openapi({ description: "The user is an operator of this instance (OPENPAW_OPERATOR_EMAILS)" }),
      }),
      "The user",
    ),
  },
});

/** The user's orgs as this host shows them: on a custom domain, only the domain's org. */
async function orgsOnHost(c: Context<AppEnv>, userId: string) {
  const orgs = await listOrgsOfUser(c.var.services.db.kysely, userId);
  const hostOrgId = c.var.hostOrgId;
  return hostOrgId ? orgs.filter((o) => o.id === hostOrgId) : orgs;
}

/** Account routes: signup, login, logout, me. */
export function authRoutes() {
  const app = createRouter();

  app.openapi(signup, async (c) => {
    const { db, config } = c.var.services;
    if (config.signup === "closed") throw errors.forbidden("Sign-up is closed on this deployment; ask an administrator for an account.", "signup_closed");
    const body = c.req.valid("json");
    await limitAuthAttempts(c, body.email);
    const now = Date.now();
    const user = {
      id: newId("usr"),
      email: body.email,
      name: body.name ?? null,
      password_hash: await hashPassword(body.password, config.security.passwordHashCost),
      created_at: now,
      updated_at: now,
    };
    const org = {
      id: newId("org"),
      name: body.orgName ?? (body.name ? `${body.name}'s organization` : "My organization"),
      plan: config.defaultPlan,
      plan_status: "none",
      stripe_customer_id: null,
      stripe_subscription_id: null,
      period_start: null,
      period_end: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await db.kysely.transaction().execute(async (trx) => {
        await insertUser(trx, user);
        await insertOrgWithOwner(trx, org, user.id);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw errors.conflict("An account with this email already exists.", "email", "already_exists");
      throw error;
    }
    await startSession(c, user.id);
    return c.json({ user: serializeUser(user), org: serializeOrg(org) }, 201);
  });

  app.openapi(login, async (c) => {
    const { db, config } = c.var.services;
    const body = c.req.valid("json");
    await limitAuthAttempts(c, body.email);
    const user = await findUserByEmail(db.kysely, body.email);
    decoyHash ??= hashPassword("decoy-password", config.security.passwordHashCost);
    const ok = await verifyPassword(body.password, user?.password_hash ?? (await decoyHash));
    if (!user || !ok) throw errors.unauthenticated("Incorrect email or password.", "invalid_credentials");
    const orgs = await orgsOnHost(c, user.id);
    // On a custom domain only its org's members sign in, with the same answer as a wrong password.
    if (c.var.hostOrgId && orgs.length === 0) throw errors.unauthenticated("Incorrect email or password.", "invalid_credentials");
    await startSession(c, user.id);
    return c.json({ user: serializeUser(user), orgs }, 200);
  });

  app.openapi(logout, async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) await deleteSession(c.var.services.db.kysely, await sha256Hex(token));
    clearSessionCookie(c);
    return c.body(null, 204);
  });

  app.openapi(me, async (c) => {
    const principal = requireUser(c);
    const { db } = c.var.services;
    const user = await findUserById(db.kysely, principal.userId);
    if (!user) throw errors.unauthenticated();
    return c.json({ user: serializeUser(user), orgs: await orgsOnHost(c, user.id), operator: isOperator(c) }, 200);
  });

  return app;
}
