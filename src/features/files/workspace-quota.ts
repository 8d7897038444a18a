import type { Kysely } from "kysely";
import type { Database } from "../../db/schema";
import { planOfOrg } from "../agents/serialize";
import type { PlanTable } from "../billing/plans";

/** How long an org's quota is trusted before its plan is read again (a plan change shows within this). */
const TTL_MS = 30_000;
/** Entries kept at most; past this the cache starts over rather than grow with every org ever seen. */
const MAX_ENTRIES = 10_000;

/**
 * The workspace quota of an org, from its plan's `workspaceBytes`. Cached briefly because every
 * write and every exec asks for it, and the plan changes rarely.
 */
export function createWorkspaceQuota(db: Kysely<Database>, plans: PlanTable): (orgId: string) => Promise<number> {
  const cache = new Map<string, { bytes: number; expires: number }>();
  return async (orgId) => {
    const now = Date.now();
    const hit = cache.get(orgId);
    if (hit && hit.expires > now) return hit.bytes;
    const bytes = (await planOfOrg(db, plans, orgId)).workspaceBytes;
    if (cache.size >= MAX_ENTRIES) cache.clear();
    cache.set(orgId, { bytes, expires: now + TTL_MS });
    return bytes;
  };
}
