import type { RunStatus, RunsTable } from "../../db/schema";
import { serializeRun } from "../runs/serialize";

/** The run events an endpoint can subscribe to (DESIGN.md §6). */
export const WEBHOOK_EVENTS = ["run.completed", "run.failed", "run.cancelled", "run.requires_action"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** The event a test delivery carries; no endpoint subscribes to it, the test route sends it to one. */
export const TEST_EVENT = "webhook.test";

/** The event a run's status announces, or null for the states nobody is told about (queued, running). */
export function eventOfStatus(status: RunStatus): WebhookEvent | null {
  switch (status) {
    case "completed":
      return "run.completed";
    case "error":
    case "interrupted":
    case "max_iterations":
      return "run.failed";
    case "cancelled":
      return "run.cancelled";
    case "requires_action":
      return "run.requires_action";
    default:
      return null;
  }
}

/** The body of a run event: `{"type","createdAt","data":{"run"}}`, the run as the API shows it. */
export function runEventPayload(type: WebhookEvent, run: RunsTable, pendingApprovals: Parameters<typeof serializeRun>[1], now: number): string {
  return JSON.stringify({ type, createdAt: new Date(now).toISOString(), data: { run: serializeRun(run, pendingApprovals) } });
}
