import type { Services } from "../services";

export type Role = "owner" | "admin" | "member";
export type Scope = "chat" | "read" | "write" | "admin";

/** Who is calling: a signed-in user (session cookie) or an API key of one org. */
export type Principal =
  | { kind: "user"; userId: string; email: string; sessionId: string }
  | { kind: "key"; keyId: string; orgId: string; scopes: Scope[]; agentIds: string[] | null; expiresAt: number | null };

/**
 * What the principal may do inside the org of the current path. Permissions follow DESIGN.md §2:
 * `read` (GET org resources), `chat`, `write` (agents, skills, memory, conversations, domains),
 * `admin` (API keys and the rest an admin session may do), `billing`, `owner` (members, delete org).
 */
export type Permission = "read" | "chat" | "write" | "admin" | "billing" | "owner";

export interface OrgAccess {
  orgId: string;
  principal: Principal;
  role: Role | null;
  permissions: ReadonlySet<Permission>;
  /** Agents a restricted key may see; null = all of the org's agents. */
  agentIds: string[] | null;
}

export interface AppEnv {
  Variables: {
    services: Services;
    requestId: string;
    principal: Principal | null;
    access: OrgAccess;
    /** Org chosen by an active custom domain in the Host header, if any. */
    hostOrgId: string | null;
    /** The request's trace id when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT). */
    traceId?: string;
    /** The request's authentication, started once (see `authenticate`). */
    authentication?: Promise<Principal | null>;
  };
}
