import { Hono } from "hono";
import type { AppEnv } from "../../http/context";
import { errors } from "../../http/errors";

/** `/healthz` (the process is up) and `/readyz` (the database answers). No auth. */
export function healthRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    try {
      await c.var.services.db.ping();
    } catch {
      throw errors.unavailable("The database is not reachable.");
    }
    return c.json({ status: "ready" });
  });
  return app;
}
