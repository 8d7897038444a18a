import { z } from "@hono/zod-openapi";
import { Hono } from "hono";
import { isUniqueViolation } from "../../db";
import type { CustomDomainsTable } from "../../db/schema";
import type { AppEnv } from "../../http/context";
import { errors } from "../../http/errors";
import { OrgIdParam, createRouter, iso, jsonBody, jsonResponse } from "../../http/openapi";
import { newId, randomBase62 } from "../../lib/ids";
import { canonicalHost, normalizeDomain } from "./normalize";
import { findDomainByName, findDomainOfOrg, deleteDomainOfOrg, replaceDomain, restartVerification } from "./repository";
import { verificationRecordName, verificationRecordValue } from "./verifier";
import { orgRoute } from "../../http/routes";

const tags = ["Custom domain"];

const DnsRecordSchema = z
  .object({
    type: z.enum(["CNAME", "TXT"]),
    name: z.string(),
    value: z.string(),
  })
  .openapi("DnsRecord");

const CustomDomainSchema = z
  .object({
    id: z.string(),
    domain: z.string().openapi({ example: "api.example.com" }),
    status: z.enum(["pending", "active", "failed"]),
    dns: z.array(DnsRecordSchema).openapi({ description: "Records to create at your DNS provider" }),
    cnameOk: z.boolean().openapi({ description: "The CNAME pointed at the target at the last check" }),
    cnameRequired: z.boolean().openapi({ description: "Whether the CNAME is needed for activation, besides the TXT record" }),
    failureReason: z.string().nullable().openapi({ description: "Why the last check did not verify the domain" }),
    checkedAt: z.string().nullable(),
    verifiedAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("CustomDomain");

const SetDomainBody = z
  .strictObject({
    domain: z.string().max(1024).openapi({ example: "api.example.com", description: "A hostname you control; IDN is accepted" }),
  })
  .openapi("SetCustomDomainRequest");

const Params = z.object({ orgId: OrgIdParam });

const putDomain = orgRoute({
  method: "put",
  path: "/v1/orgs/{orgId}/custom-domain",
  operationId: "customDomain.set",
  tags,
  summary: "Set the org's custom domain (replacing any, which restarts verification)",
  request: { params: Params, body: jsonBody(SetDomainBody) },
  responses: {
    200: jsonResponse(CustomDomainSchema, "The domain, pending until its DNS records are found"),
  },
  errors: { 409: "Another org uses this domain" },
  permission: "write",
});

const getDomain = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/custom-domain",
  operationId: "customDomain.get",
  tags,
  summary: "The custom domain and its DNS instructions (re-checks DNS while pending)",
  request: { params: Params },
  responses: { 200: jsonResponse(CustomDomainSchema, "The domain") },
  permission: "read",
});

const deleteDomain = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/custom-domain",
  operationId: "customDomain.delete",
  tags,
  summary: "Remove the custom domain (its traffic stops at once)",
  request: { params: Params },
  responses: { 204: { description: "Removed" } },
  permission: "write",
});

function serializeDomain(d: CustomDomainsTable, cnameTarget: string, cnameRequired: boolean) {
  return {
    id: d.id,
    domain: d.domain,
    status: d.status,
    dns: [
      { type: "CNAME" as const, name: d.domain, value: cnameTarget },
      { type: "TXT" as const, name: verificationRecordName(d.domain), value: verificationRecordValue(d.token) },
    ],
    cnameOk: d.cname_ok === 1,
    cnameRequired,
    failureReason: d.status === "active" ? null : d.failure_reason,
    checkedAt: iso(d.checked_at),
    verifiedAt: iso(d.verified_at),
    createdAt: iso(d.created_at),
    updatedAt: iso(d.updated_at),
  };
}

/** `PUT|GET|DELETE /v1/orgs/:orgId/custom-domain`: one custom domain per org. */
export function customDomainRoutes() {
  const app = createRouter();

  app.openapi(putDomain, async (c) => {
    const { access, services } = c.var;
    const { domains, config } = services;
    const db = services.db.kysely;
    const check = normalizeDomain(c.req.valid("json").domain, domains.reservedNames);
    if (!check.ok) throw errors.invalid(check.reason, "domain");
    const now = Date.now();
    const existing = await findDomainOfOrg(db, access.orgId);
    const show = (d: CustomDomainsTable) => c.json(serializeDomain(d, config.domains.cnameTarget, config.domains.requireCname), 200);

    if (existing && existing.domain === check.domain) {
      // Setting the same domain again keeps its token, so records already published stay valid;
      // only a failed one starts a new 72-hour window.
      if (existing.status !== "failed") return show(existing);
      await restartVerification(db, access.orgId, existing.id, now);
      return show((await findDomainOfOrg(db, access.orgId)) ?? existing);
    }

    const conflict = () => errors.conflict("This domain is already in use by another organization.", "domain", "already_exists");
    const holder = await findDomainByName(db, check.domain);
    if (holder && holder.org_id !== access.orgId && holder.status !== "failed") throw conflict();
    const record: CustomDomainsTable = {
      id: newId("dom"),
      org_id: access.orgId,
      domain: check.domain,
      token: randomBase62(32),
      status: "pending",
      cname_ok: 0,
      failure_reason: null,
      attempts: 0,
      pending_since: now,
      checked_at: null,
      next_check_at: now,
      verified_at: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await replaceDomain(db, record);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict();
      throw error;
    }
    if (existing?.status === "active") domains.directory.invalidate();
    return show(record);
  });

  app.openapi(getDomain, async (c) => {
    const { access, services } = c.var;
    const domain = await services.domains.currentOfOrg(access.orgId);
    if (!domain) throw errors.notFound("Custom domain");
    const { cnameTarget, requireCname } = services.config.domains;
    return c.json(serializeDomain(domain, cnameTarget, requireCname), 200);
  });

  app.openapi(deleteDomain, async (c) => {
    const { access, services } = c.var;
    if (!(await deleteDomainOfOrg(services.db.kysely, access.orgId))) throw errors.notFound("Custom domain");
    services.domains.directory.invalidate();
    return c.body(null, 204);
  });

  return app;
}

/**
 * `GET /internal/tls/ask?domain=...`: Caddy's on-demand TLS asks here before it obtains a
 * certificate; 200 only for active custom domains and the public host, so nobody can make the
 * gateway request certificates for arbitrary names. No auth (Caddy sends none); it reveals only
 * what DNS already shows.
 */
export function tlsAskRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/internal/tls/ask", async (c) => {
    const raw = c.req.query("domain");
    if (!raw) throw errors.invalid("The domain query parameter is required.", "domain");
    const { domains } = c.var.services;
    const host = canonicalHost(raw);
    if (host === domains.publicHost || (await domains.directory.orgOf(host))) return c.json({ domain: host, allowed: true }, 200);
    throw errors.notFound("Custom domain", "domain");
  });
  return app;
}
