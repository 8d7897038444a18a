import { createRouter } from "../../../http/openapi";
import { cancelRun } from "./cancel";
import { followRunEvents } from "./events";
import { getRun } from "./get";
import { listRuns } from "./list";

/** Runs as resources (DESIGN.md §6): list, get, follow the events, cancel. */
export function runRoutes() {
  const app = createRouter();
  listRuns(app);
  getRun(app);
  followRunEvents(app);
  cancelRun(app);
  return app;
}
