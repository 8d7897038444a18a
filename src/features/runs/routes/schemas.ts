import { z } from "@hono/zod-openapi";
import { OrgIdParam } from "../../../http/openapi";

export const tags = ["Runs"];

export const RunIdParam = z
  .string()
  .min(1)
  .max(64)
  .openapi({ param: { name: "runId", in: "path" }, example: "run_4f9Kq2" });

export const RunParams = z.object({ orgId: OrgIdParam, runId: RunIdParam });
