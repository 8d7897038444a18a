import { z } from "zod";
import { WorkspaceError, type WorkspaceFiles } from "../sandbox/types";
import type { ToolDefinition, ToolOutput } from "./types";

export interface FileToolsOptions {
  files: WorkspaceFiles;
  /** Largest file read_file opens (default 5 MiB); bigger ones need exec (head, sed, grep). */
  maxReadBytes?: number;
  /** Characters of one read_file answer (default 100,000). */
  maxOutputChars?: number;
  /** Largest content of one write_file (default 5 MiB of UTF-8). */
  maxWriteBytes?: number;
}

const DEFAULT_LIMIT = 2000;
const MAX_LINE_CHARS = 2000;

const readInput = z.object({
  path: z.string().min(1).describe("File path inside /workspace, e.g. `notes.md` or `/workspace/src/app.py`."),
  offset: z.number().int().min(1).optional().describe("First line to return, 1-based (default 1)."),
  limit: z.number().int().min(1).optional().describe(`Number of lines to return (default ${DEFAULT_LIMIT}).`),
});
const writeInput = z.object({
  path: z.string().min(1).describe("File path inside /workspace; missing parent directories are created."),
  content: z.string().describe("The text to write (UTF-8)."),
  append: z.boolean().optional().describe("Append to the file instead of replacing it."),
});

export type ReadFileInput = z.infer<typeof readInput>;
export type WriteFileInput = z.infer<typeof writeInput>;

/** The `read_file` tool: numbered lines (cat -n style) of a workspace file, from a 1-based offset. */
export function createReadFileTool(options: FileToolsOptions): ToolDefinition<ReadFileInput> {
  const maxReadBytes = options.maxReadBytes ?? 5 * 1024 * 1024;
  const maxChars = options.maxOutputChars ?? 100_000;
  return {
    name: "read_file",
    description:
      "Read a text file from your /workspace. Returns lines numbered like `cat -n`, at most 2000 lines " +
      "from `offset` (1-based); read further with a larger offset. Long lines are cut at 2000 characters.",
    tier: "pro",
    input: readInput,
    timeoutMs: 15_000,
    async execute(args, context) {
      let bytes: Uint8Array;
      try {
        bytes = await options.files.read(context.orgId, args.path, { maxBytes: maxReadBytes });
      } catch (error) {
        return refusal(error, "use exec with head, tail, sed or grep for large files");
      }
      if (bytes.byteLength === 0) return `${args.path} is empty.`;
      if (bytes.subarray(0, 8192).includes(0)) {
        return {
          content: `${args.path} looks binary (${bytes.byteLength} bytes); inspect it with exec (file, xxd, python3).`,
          isError: true,
        };
      }
      const lines = Buffer.from(bytes).toString("utf8").split("\n");
      if (lines[lines.length - 1] === "") lines.pop();
      const offset = args.offset ?? 1;
      const limit = args.limit ?? DEFAULT_LIMIT;
      if (offset > lines.length) {
        return { content: `${args.path} has only ${lines.length} lines; offset ${offset} is past its end.`, isError: true };
      }
      const out: string[] = [];
      let chars = 0;
      let last = offset - 1;
      for (let index = offset - 1; index < Math.min(lines.length, offset - 1 + limit); index++) {
        let line = lines[index].replace(/\r$/, "");
        if (line.length > MAX_LINE_CHARS) line = `${line.slice(0, MAX_LINE_CHARS)}… [line cut at ${MAX_LINE_CHARS} characters]`;
        const numbered = `${String(index + 1).padStart(6)}\t${line}`;
        if (chars + numbered.length > maxChars && out.length > 0) break;
        out.push(numbered);
        chars += numbered.length + 1;
        last = index + 1;
      }
      if (last < lines.length) {
        out.push(`[showing lines ${offset}-${last} of ${lines.length}; read on with offset=${last + 1}]`);
      }
      return out.join("\n");
    },
  };
}

/** The `write_file` tool: creates or replaces (or appends to) a workspace file, within the quota. */
export function createWriteFileTool(options: FileToolsOptions): ToolDefinition<WriteFileInput> {
  const maxWriteBytes = options.maxWriteBytes ?? 5 * 1024 * 1024;
  return {
    name: "write_file",
    description:
      "Write a text file in your /workspace (created with its parent directories, or replaced; " +
      "`append: true` adds to its end). The workspace has a size quota.",
    tier: "pro",
    input: writeInput,
    timeoutMs: 15_000,
    async execute(args, context) {
      const data = Buffer.from(args.content, "utf8");
      if (data.byteLength > maxWriteBytes) {
        return {
          content: `Refused: the content is ${data.byteLength} bytes, over the ${maxWriteBytes}-byte limit of one write.`,
          isError: true,
        };
      }
      try {
        const written = await options.files.write(context.orgId, args.path, data, { append: args.append });
        const verb = written.created ? "Created" : args.append ? "Appended to" : "Replaced";
        return `${verb} ${written.path}: wrote ${data.byteLength} bytes; the file is now ${written.size} bytes.`;
      } catch (error) {
        return refusal(error);
      }
    },
  };
}

/** Turns the workspace rules' refusals into tool errors; anything else is a real failure. */
function refusal(error: unknown, hint?: string): ToolOutput {
  if (!(error instanceof WorkspaceError)) throw error;
  const extra = hint && error.code === "too_large" ? ` (${hint})` : "";
  return { content: `Refused: ${error.message}${extra}`, isError: true };
}
