import { generateApiKey, sha256Hex } from "../api-keys/key-format";
import { insertApiKey } from "../api-keys/repository";
import { hashPassword, verifyPassword } from "../auth/password";
import { findUserByEmail, insertUser } from "../auth/repository";
import { newId } from "../../lib/ids";
import type { Services } from "../../services";
import { insertOrgWithOwner } from "./repository";

/**
 * Headless setup: a user (created, or an existing one whose password matches), a new org it owns,
 * and an `admin` API key for that org. Returns the key once.
 */
export async function bootstrap(
  services: Services,
  input: { email: string; password: string; orgName: string },
): Promise<{ userId: string; orgId: string; key: string }> {
  const { db, config } = services;
  const email = input.email.trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw new Error("--email is not an email address");
  if (input.password.length < 8) throw new Error("--password must be at least 8 characters");
  const now = Date.now();
  const key = generateApiKey();
  return db.kysely.transaction().execute(async (trx) => {
    let user = await findUserByEmail(trx, email);
    if (user && !(await verifyPassword(input.password, user.password_hash))) {
      throw new Error(`A user ${email} exists with another password`);
    }
    if (!user) {
      user = {
        id: newId("usr"),
        email,
        name: null,
        password_hash: await hashPassword(input.password, config.security.passwordHashCost),
        created_at: now,
        updated_at: now,
      };
      await insertUser(trx, user);
    }
    const orgId = newId("org");
    await insertOrgWithOwner(
      trx,
      {
        id: orgId,
        name: input.orgName,
        plan: config.defaultPlan,
        plan_status: "none",
        stripe_customer_id: null,
        stripe_subscription_id: null,
        period_start: null,
        period_end: null,
        created_at: now,
        updated_at: now,
      },
      user.id,
    );
    await insertApiKey(trx, {
      id: newId("key"),
      org_id: orgId,
      name: "bootstrap",
      prefix: key.slice(0, 12),
      last4: key.slice(-4),
      key_hash: await sha256Hex(key),
      scopes: JSON.stringify(["admin"]),
      agent_ids: null,
      created_by: user.id,
      created_at: now,
      expires_at: null,
      last_used_at: null,
      revoked_at: null,
    });
    return { userId: user.id, orgId, key };
  });
}
