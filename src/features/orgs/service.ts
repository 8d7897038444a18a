import { errors } from "../../http/errors";
import type { Services } from "../../services";
import { deleteOrg, findOrg } from "./repository";

/** Subscription states in which Stripe keeps charging the customer. */
const BILLED = new Set(["active", "past_due"]);

/**
 * Deletes an org and everything that belongs to it: its rows (every table hangs off `orgs` with
 * ON DELETE CASCADE), its workspace files, and what caches hold of it on every replica (key
 * lookups, the custom-domain directory). Unsent overage meter events stay in the outbox: they are
 * usage Stripe still has to bill. An org whose subscription Stripe still charges is refused (409):
 * deleting it would leave the customer billed for nothing.
 */
export async function deleteOrganization(services: Services, orgId: string): Promise<void> {
  const { db } = services;
  const org = await findOrg(db.kysely, orgId);
  if (!org) throw errors.notFound("Organization");
  if (org.stripe_subscription_id && BILLED.has(org.plan_status)) {
    throw errors.conflict("This organization has a subscription that is still billed; cancel it in the billing portal first, then delete the organization.");
  }
  await deleteOrg(db.kysely, orgId);
  // After the commit: a lookup made before it could otherwise be cached again.
  services.apiKeys.invalidate({ orgId });
  services.domains.directory.invalidate();
  await services.files.removeWorkspace(orgId);
}
