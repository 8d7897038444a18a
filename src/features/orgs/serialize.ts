import type { OrgsTable } from "../../db/schema";
import { iso } from "../../http/openapi";

/** The public shape of an org. */
export const serializeOrg = (o: OrgsTable) => ({
  id: o.id,
  name: o.name,
  plan: o.plan,
  createdAt: iso(o.created_at),
  updatedAt: iso(o.updated_at),
});
