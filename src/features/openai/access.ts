import type { MiddlewareHandler } from "hono";
import { authenticate, resolveOrgAccess } from "../../http/auth";
import type { AppEnv, Principal } from "../../http/context";
import { errors } from "../../http/errors";

/**
 * The OpenAI-compatible surface takes the org's API key as its bearer token, as OpenAI's SDKs
 * send it, and nothing else: a session cookie is not a credential here (these routes sit outside
 * the dashboard's CSRF protection). Sets `principal` and the key's `access` to its own org (a
 * custom domain of another org answers 404).
 */
export const requireApiKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.header("authorization") === undefined) {
    throw errors.unauthenticated('Send your OpenPaw API key as "Authorization: Bearer sk_live_..." (the OpenAI SDKs\' apiKey).');
  }
  const principal = (await authenticate(c)) as Extract<Principal, { kind: "key" }>;
  c.set("principal", principal);
  c.set("access", await resolveOrgAccess(c, principal, principal.orgId));
  await next();
};
