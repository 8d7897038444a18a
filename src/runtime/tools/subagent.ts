/**
 * The `subagent` tool: hand a task to another agent of the org (or a fresh copy of the caller)
 * as a separate run with its own conversation, and get its final text back. The run itself is
 * started by the chat feature (`spawn`), which binds one instance of this tool to each parent run.
 */
import { z } from "zod";
import type { ToolContext, ToolDefinition, ToolOutput } from "./types";

const subagentInput = z.object({
  task: z.string().min(1).max(20_000).describe("Everything the subagent needs to do the task: it sees nothing of this conversation."),
  agentId: z.string().min(1).max(64).optional().describe("The id of another agent of the organization to run; default: a copy of yourself."),
});

export type SubagentInput = z.infer<typeof subagentInput>;

export interface SubagentToolOptions {
  /** Starts the child run and waits for its end; absent in the registry's unbound definition. */
  spawn?: (input: SubagentInput, context: ToolContext) => Promise<ToolOutput>;
  /** Children running at once for one parent run (default 4). */
  maxParallel?: number;
  /** Wall-clock limit of one child run (default 5 minutes). */
  timeoutMs?: number;
}

/** Builds the subagent tool (agency tier). Several calls in one turn run in parallel, up to `maxParallel`. */
export function createSubagentTool(options: SubagentToolOptions = {}): ToolDefinition<SubagentInput> {
  const maxParallel = options.maxParallel ?? 4;
  let running = 0;
  return {
    name: "subagent",
    description:
      "Delegate a self-contained task to a subagent that works on it separately (with its own tools) and returns its final answer. " +
      `Call it several times in one turn to run up to ${maxParallel} tasks in parallel. Subagents cannot start subagents.`,
    tier: "agency",
    input: subagentInput,
    timeoutMs: options.timeoutMs ?? 300_000,
    async execute(input, context): Promise<ToolOutput> {
      if (!options.spawn) return { content: "Subagents can only be started from an agent's run.", isError: true };
      if (running >= maxParallel) {
        return { content: `At most ${maxParallel} subagents run at once; wait for one to finish and call again.`, isError: true };
      }
      running++;
      try {
        return await options.spawn(input, context);
      } finally {
        running--;
      }
    },
  };
}
