import { errors } from "../../../http/errors";
import type { Services } from "../../../services";
import { webhookUrlProblem } from "../service";

/** 400 naming `url` when the gateway would not deliver there. */
export async function checkWebhookUrl(services: Services, url: string): Promise<void> {
  const problem = await webhookUrlProblem(url, services.config.fetchAllowlist);
  if (problem) throw errors.invalid(`Invalid url: ${problem}`, "url");
}

export const duplicateUrl = () => errors.conflict("This organization already has a webhook endpoint with this URL.", "url", "already_exists");
