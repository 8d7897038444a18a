import type { DoneData } from "../../runtime/events";

/** Token figures as OpenAI reports them: input counts cache reads and writes, reads also as cached. */
export interface TokenFigures {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export const inputTokensOf = (t: TokenFigures) => t.inputTokens + t.cacheReadTokens + t.cacheWriteTokens;

/** Chat Completions' `usage`. */
export function completionUsage(t: TokenFigures) {
  const prompt = inputTokensOf(t);
  return {
    prompt_tokens: prompt,
    completion_tokens: t.outputTokens,
    total_tokens: prompt + t.outputTokens,
    prompt_tokens_details: { cached_tokens: t.cacheReadTokens },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

/** The Responses API's `usage`. */
export function responseUsage(t: TokenFigures) {
  const input = inputTokensOf(t);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: t.cacheReadTokens },
    output_tokens: t.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + t.outputTokens,
  };
}

export type DoneFigures = Pick<DoneData, "inputTokens" | "outputTokens" | "cacheReadTokens" | "cacheWriteTokens">;
