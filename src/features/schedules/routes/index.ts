import { createRouter } from "../../../http/openapi";
import { createSchedule } from "./create";
import { deleteAgentSchedule } from "./delete";
import { getSchedule } from "./get";
import { listAgentSchedules } from "./list";
import { updateAgentSchedule } from "./update";

/** Cron schedules per agent (DESIGN.md §6). */
export function scheduleRoutes() {
  const app = createRouter();
  listAgentSchedules(app);
  createSchedule(app);
  getSchedule(app);
  updateAgentSchedule(app);
  deleteAgentSchedule(app);
  return app;
}
