import type { OrgAccess, Permission, Role, Scope } from "./context";
import { errors } from "./errors";

const rolePermissions: Record<Role, Permission[]> = {
  owner: ["read", "chat", "write", "admin", "billing", "owner"],
  admin: ["read", "chat", "write", "admin"],
  member: ["read", "chat"],
};

const scopePermissions: Record<Scope, Permission[]> = {
  chat: ["chat"],
  read: ["read"],
  write: ["read", "write"],
  admin: ["read", "chat", "write", "admin", "billing"],
};

/** The permissions of a session role. */
export function permissionsOfRole(role: Role): Set<Permission> {
  return new Set(rolePermissions[role]);
}

/** The union of the permissions of a key's scopes. */
export function permissionsOfScopes(scopes: readonly Scope[]): Set<Permission> {
  return new Set(scopes.flatMap((s) => scopePermissions[s]));
}

/** Throws 403 unless the caller has `permission` in this org. */
export function requirePermission(access: OrgAccess, permission: Permission): void {
  if (!access.permissions.has(permission)) {
    const who = access.principal.kind === "key" ? "This API key's scopes do not" : `The ${access.role} role does not`;
    throw errors.forbidden(`${who} allow this action (needs ${permission} permission).`);
  }
}

/**
 * What a key restricted to some agents (`agentIds`) may reach in its org, by route: its agents and
 * everything under them (memory, conversations, skill links, schedules), their runs and usage
 * (both filtered to its agents), the skill catalogue read-only (to attach skills) and the org
 * itself read-only (name and plan). Nothing org-wide: API keys, members, channels, MCP servers,
 * the workspace, the custom domain, billing, webhooks. A route added later is refused until it
 * is listed here.
 */
const AGENT_SCOPED_ROUTES: Array<{ methods: "any" | "read"; pattern: RegExp }> = [
  { methods: "read", pattern: /^\/v1\/orgs\/:orgId$/ },
  { methods: "any", pattern: /^\/v1\/orgs\/:orgId\/agents(\/.*)?$/ },
  { methods: "any", pattern: /^\/v1\/orgs\/:orgId\/runs(\/.*)?$/ },
  { methods: "read", pattern: /^\/v1\/orgs\/:orgId\/usage(\/summary)?$/ },
  { methods: "read", pattern: /^\/v1\/orgs\/:orgId\/skills(\/:skillId)?$/ },
];

/** Throws 403 when an agent-restricted key calls a route beyond its agents (`route` is the route's pattern). */
export function requireAgentScopedRoute(access: OrgAccess, method: string, route: string): void {
  if (access.agentIds === null) return;
  const read = method === "GET" || method === "HEAD";
  if (AGENT_SCOPED_ROUTES.some((r) => r.pattern.test(route) && (r.methods === "any" || read))) return;
  throw errors.forbidden("This API key is restricted to some agents; it cannot reach the organization's other resources.", "key_restricted");
}

/** True when a restricted key may see this agent. */
export function canSeeAgent(access: OrgAccess, agentId: string): boolean {
  return access.agentIds === null || access.agentIds.includes(agentId);
}
