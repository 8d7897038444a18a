import { z } from "@hono/zod-openapi";
import { OrgIdParam, PathId } from "../../../http/openapi";

export const tags = ["Runs"];

export const RunIdParam = PathId("runId", "run_4f9Kq2");

export const RunParams = z.object({ orgId: OrgIdParam, runId: RunIdParam });
