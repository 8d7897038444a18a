import { createRouter } from "../../../http/openapi";
import { createWebhook } from "./create";
import { deleteWebhook } from "./delete";
import { listWebhookDeliveries } from "./deliveries";
import { getWebhook } from "./get";
import { listWebhooks } from "./list";
import { rotateWebhookSecret } from "./rotate-secret";
import { testWebhook } from "./test";
import { updateWebhook } from "./update";

/**
 * Webhook endpoints of an org (DESIGN.md §6): CRUD, a test delivery, the delivery log, secret rotation.
 * Webhooks carry every agent's runs, so they are org-wide: reading needs `read`, changing them (and
 * their secrets) `admin`, and keys restricted to some agents never reach them (orgGuard refuses).
 */
export function webhookRoutes() {
  const app = createRouter();
  listWebhooks(app);
  createWebhook(app);
  getWebhook(app);
  updateWebhook(app);
  deleteWebhook(app);
  testWebhook(app);
  listWebhookDeliveries(app);
  rotateWebhookSecret(app);
  return app;
}
