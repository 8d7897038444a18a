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

/** True when a restricted key may see this agent. */
export function canSeeAgent(access: OrgAccess, agentId: string): boolean {
  return access.agentIds === null || access.agentIds.includes(agentId);
}
