/**
 * memory_read and memory_write (free tier): the agent's way into its own memory. The store is
 * resolved per call from the run's context, so one tool definition serves every agent.
 */
import { z } from "zod";
import { MemoryFullError, type MemoryStore } from "../memory";
import type { ToolContext, ToolDefinition } from "./types";

export interface MemoryReadInput {
  query: string;
}

export interface MemoryWriteInput {
  content: string;
}

/** Lines memory_read returns at most. */
const READ_LIMIT = 20;

/** Builds memory_read and memory_write over the store of the calling run's agent. */
export function createMemoryTools(getStore: (ctx: ToolContext) => MemoryStore): {
  memoryRead: ToolDefinition<MemoryReadInput>;
  memoryWrite: ToolDefinition<MemoryWriteInput>;
} {
  const memoryRead: ToolDefinition<MemoryReadInput> = {
    name: "memory_read",
    description:
      "Search your saved notes and the summaries of past conversations. Returns matching lines, best match first, " +
      'each prefixed with its date and source, e.g. "[2026-11-28 note] ...". An empty query lists all your notes.',
    tier: "free",
    input: z.object({
      query: z.string().max(1000).describe("Words to look for (any of them may match). Empty lists all notes."),
    }),
    timeoutMs: 10_000,
    async execute(input, ctx) {
      const lines = await getStore(ctx).search(input.query, READ_LIMIT);
      return lines.length ? lines.join("\n") : "No matching notes or history.";
    },
  };

  const memoryWrite: ToolDefinition<MemoryWriteInput> = {
    name: "memory_write",
    description:
      "Save a note to your long-term memory: a fact, preference or decision worth remembering in later conversations. " +
      "Notes are dated automatically and always shown to you; keep each one short and self-contained.",
    tier: "free",
    input: z.object({
      content: z.string().trim().min(1).describe("The note to save, one self-contained fact."),
    }),
    timeoutMs: 10_000,
    async execute(input, ctx) {
      const store = getStore(ctx);
      try {
        await store.appendNote(input.content);
      } catch (error) {
        // Too long or full: the agent can act on the message, so it is a tool result, not a crash.
        if (error instanceof MemoryFullError) return { content: error.message, isError: true };
        throw error;
      }
      const count = (await store.notes()).length;
      return `Saved note (${count} of ${maxNotesOf(store)}).`;
    },
  };

  return { memoryRead, memoryWrite };
}

/** The note cap of a store that tells it (createMemoryStore's stores have `limits`); "max" otherwise. */
function maxNotesOf(store: MemoryStore & { limits?: { maxNotes?: unknown } }): string {
  const max = store.limits?.maxNotes;
  return typeof max === "number" ? String(max) : "max";
}
