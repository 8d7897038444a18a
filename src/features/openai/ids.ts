/**
 * Ids of the OpenAI-compatible surface. A Response or a chat completion is one run: its id is the
 * run id's random part behind OpenAI's prefix (`run_4f9K…` ⇄ `resp_4f9K…`, `chatcmpl-4f9K…`), so
 * it maps back to the run without a lookup table and the run id in `X-Run-Id` names the same run.
 * Output items are named after the run and the seq of the event that opened them: stable on replay.
 */
const RANDOM = /^[A-Za-z0-9]{1,64}$/;

const randomPartOf = (runId: string) => runId.slice(runId.indexOf("_") + 1);

export const responseIdOf = (runId: string) => `resp_${randomPartOf(runId)}`;

export const completionIdOf = (runId: string) => `chatcmpl-${randomPartOf(runId)}`;

/** The run of a response id, or null for anything that is not one. */
export function runIdOfResponse(responseId: string): string | null {
  const random = responseId.startsWith("resp_") ? responseId.slice(5) : "";
  return RANDOM.test(random) ? `run_${random}` : null;
}

export const messageItemId = (runId: string, seq: number) => `msg_${randomPartOf(runId)}_${seq}`;

export const toolItemId = (runId: string, seq: number) => `tc_${randomPartOf(runId)}_${seq}`;

export const unixSeconds = (ms: number) => Math.floor(ms / 1000);
