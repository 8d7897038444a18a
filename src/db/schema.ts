/**
 * Table types for Kysely. Times are epoch milliseconds, booleans 0/1, JSON as text (DESIGN.md §4).
 * Each feature's tables are declared beside its migration and merged into `Database` here.
 */
import type { Generated } from "kysely";

export interface OrgsTable {
  id: string;
  name: string;
  plan: string;
  /** Subscription status as Stripe reports it: active, past_due, canceled; "none" without one. */
  plan_status: string;
  stripe_customer_id: string | null;
  stripe_subscription_id: string | null;
  period_start: number | null;
  period_end: number | null;
  created_at: number;
  updated_at: number;
}

export interface UsersTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

export interface MembershipsTable {
  org_id: string;
  user_id: string;
  role: "owner" | "admin" | "member";
  created_at: number;
}

export interface SessionsTable {
  /** SHA-256 of the cookie token, hex. */
  id: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

export interface ApiKeysTable {
  id: string;
  org_id: string;
  name: string | null;
  prefix: string;
  last4: string;
  /** SHA-256 of the full key, hex. */
  key_hash: string;
  /** JSON array of scopes. */
  scopes: string;
  /** JSON array of agent ids, or null for all agents. */
  agent_ids: string | null;
  created_by: string | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface FoundationTables {
  orgs: OrgsTable;
  users: UsersTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  api_keys: ApiKeysTable;
}

export interface Database extends FoundationTables {}

export type { Generated };
