import { z } from "@hono/zod-openapi";
import { isUniqueViolation } from "../../db";
import { requireUser } from "../../http/auth";
import { errors } from "../../http/errors";
import { createRouter, iso, jsonBody, jsonResponse, OrgIdParam, PathId } from "../../http/openapi";
import { requirePermission } from "../../http/permissions";
import { newId } from "../../lib/ids";
import { Email, OrgSchema } from "../auth/schemas";
import { findUserByEmail } from "../auth/repository";
import { countOwners, deleteMember, findOrg, findRole, insertMember, insertOrgWithOwner, listMembers, lockOrg, renameOrg, updateMemberRole } from "./repository";
import { serializeOrg } from "./serialize";
import { deleteOrganization } from "./service";
import { apiRoute, orgRoute } from "../../http/routes";

const tags = ["Organizations"];
const Role = z.enum(["owner", "admin", "member"]);
const OrgName = z.string().trim().min(1).max(100);
const MemberSchema = z
  .object({ userId: z.string(), email: z.string(), name: z.string().nullable(), role: Role, createdAt: z.string() })
  .openapi("Member");
const OrgWithRole = OrgSchema.extend({ role: Role.nullable() }).openapi("OrgWithRole");
const MemberParams = z.object({
  orgId: OrgIdParam,
  userId: PathId("userId", "usr_4f9Kq2"),
});

const createOrg = apiRoute({
  method: "post",
  path: "/v1/orgs",
  operationId: "orgs.create",
  tags,
  summary: "Create an organization (you become its owner)",
  description: "A signed-in user creates another organization on the default plan and becomes its owner. API keys belong to one org and cannot create others.",
  audience: "user",
  request: { body: jsonBody(z.strictObject({ name: OrgName })) },
  responses: { 201: jsonResponse(OrgWithRole, "The new org") },
});

const getOrg = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}",
  operationId: "orgs.get",
  tags,
  summary: "Get an organization",
  request: { params: z.object({ orgId: OrgIdParam }) },
  responses: { 200: jsonResponse(OrgWithRole, "The org") },
  permission: "read",
});

const updateOrg = orgRoute({
  method: "patch",
  path: "/v1/orgs/{orgId}",
  operationId: "orgs.update",
  tags,
  summary: "Rename an organization",
  request: { params: z.object({ orgId: OrgIdParam }), body: jsonBody(z.strictObject({ name: OrgName })) },
  responses: { 200: jsonResponse(OrgWithRole, "The org") },
  permission: "admin",
});

const removeOrg = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}",
  operationId: "orgs.delete",
  tags,
  summary: "Delete an organization and all its data (owners only; 409 while a subscription is still billed)",
  request: { params: z.object({ orgId: OrgIdParam }) },
  responses: { 204: { description: "Deleted" } },
  permission: "owner",
});

const listMembersRoute = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/members",
  operationId: "members.list",
  tags,
  summary: "List members",
  request: { params: z.object({ orgId: OrgIdParam }) },
  responses: { 200: jsonResponse(z.object({ data: z.array(MemberSchema) }), "Members") },
  permission: "read",
});

const addMember = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/members",
  operationId: "members.add",
  tags,
  summary: "Add an existing user to the org by email (owners only)",
  request: {
    params: z.object({ orgId: OrgIdParam }),
    body: jsonBody(z.strictObject({ email: Email, role: Role.default("member") })),
  },
  responses: { 201: jsonResponse(MemberSchema, "The new member") },
  errors: { 409: "This user is already a member" },
  permission: "owner",
});

const changeMember = orgRoute({
  method: "patch",
  path: "/v1/orgs/{orgId}/members/{userId}",
  operationId: "members.update",
  tags,
  summary: "Change a member's role (owners only)",
  request: { params: MemberParams, body: jsonBody(z.strictObject({ role: Role })) },
  responses: { 200: jsonResponse(MemberSchema, "The member") },
  errors: { 409: "The change would leave the organization without an owner" },
  permission: "owner",
});

const removeMember = orgRoute({
  method: "delete",
  path: "/v1/orgs/{orgId}/members/{userId}",
  operationId: "members.remove",
  tags,
  summary: "Remove a member (owners only; anyone may remove themselves)",
  description: "An owner removes anyone; any member (a session, not a key) may remove themselves, i.e. leave the organization.",
  request: { params: MemberParams },
  responses: { 204: { description: "Removed" } },
  errors: { 409: "The last owner cannot leave or be removed" },
  permission: null,
});

const serializeMember = (m: {
  userId: string;
  email: string;
  name: string | null;
  role: "owner" | "admin" | "member";
  createdAt: number;
}) => ({
  ...m,
  createdAt: iso(m.createdAt),
});

/** Organizations and their members. */
export function orgRoutes() {
  const app = createRouter();

  app.openapi(createOrg, async (c) => {
    const user = requireUser(c);
    const { db, config } = c.var.services;
    const now = Date.now();
    const org = {
      id: newId("org"),
      name: c.req.valid("json").name,
      plan: config.defaultPlan,
      plan_status: "none",
      stripe_customer_id: null,
      stripe_subscription_id: null,
      period_start: null,
      period_end: null,
      created_at: now,
      updated_at: now,
    };
    await db.kysely.transaction().execute((trx) => insertOrgWithOwner(trx, org, user.userId));
    return c.json({ ...serializeOrg(org), role: "owner" as const }, 201);
  });

  app.openapi(getOrg, async (c) => {
    const { access } = c.var;
    const org = await findOrg(c.var.services.db.kysely, access.orgId);
    if (!org) throw errors.notFound("Organization");
    return c.json({ ...serializeOrg(org), role: access.role }, 200);
  });

  app.openapi(updateOrg, async (c) => {
    const { access } = c.var;
    const { db } = c.var.services;
    await renameOrg(db.kysely, access.orgId, c.req.valid("json").name, Date.now());
    const org = await findOrg(db.kysely, access.orgId);
    if (!org) throw errors.notFound("Organization");
    return c.json({ ...serializeOrg(org), role: access.role }, 200);
  });

  app.openapi(removeOrg, async (c) => {
    const { access } = c.var;
    await deleteOrganization(c.var.services, access.orgId);
    return c.body(null, 204);
  });

  app.openapi(listMembersRoute, async (c) => {
    const { access } = c.var;
    const members = await listMembers(c.var.services.db.kysely, access.orgId);
    return c.json({ data: members.map(serializeMember) }, 200);
  });

  app.openapi(addMember, async (c) => {
    const { access } = c.var;
    const { db } = c.var.services;
    const body = c.req.valid("json");
    const user = await findUserByEmail(db.kysely, body.email);
    if (!user) throw errors.notFound("User with this email", "email");
    const now = Date.now();
    try {
      await insertMember(db.kysely, access.orgId, user.id, body.role, now);
    } catch (error) {
      if (isUniqueViolation(error)) throw errors.conflict("This user is already a member.", "email", "already_exists");
      throw error;
    }
    return c.json(serializeMember({ userId: user.id, email: user.email, name: user.name, role: body.role, createdAt: now }), 201);
  });

  app.openapi(changeMember, async (c) => {
    const { access } = c.var;
    const { db } = c.var.services;
    const { userId } = c.req.valid("param");
    const { role } = c.req.valid("json");
    await db.kysely.transaction().execute(async (trx) => {
      await lockOrg(trx, access.orgId);
      const current = await findRole(trx, access.orgId, userId);
      if (!current) throw errors.notFound("Member", "userId");
      if (current === "owner" && role !== "owner" && (await countOwners(trx, access.orgId)) <= 1) {
        throw errors.conflict("An organization needs at least one owner; make someone else owner first.", "role");
      }
      await updateMemberRole(trx, access.orgId, userId, role);
    });
    const member = (await listMembers(db.kysely, access.orgId)).find((m) => m.userId === userId);
    if (!member) throw errors.notFound("Member", "userId");
    return c.json(serializeMember(member), 200);
  });

  app.openapi(removeMember, async (c) => {
    const { access } = c.var;
    const { userId } = c.req.valid("param");
    const self = access.principal.kind === "user" && access.principal.userId === userId;
    if (!self) requirePermission(access, "owner");
    const { db } = c.var.services;
    await db.kysely.transaction().execute(async (trx) => {
      await lockOrg(trx, access.orgId);
      const current = await findRole(trx, access.orgId, userId);
      if (!current) throw errors.notFound("Member", "userId");
      if (current === "owner" && (await countOwners(trx, access.orgId)) <= 1) {
        throw errors.conflict("The last owner cannot leave; transfer ownership or delete the organization.", "userId");
      }
      await deleteMember(trx, access.orgId, userId);
    });
    return c.body(null, 204);
  });

  return app;
}
