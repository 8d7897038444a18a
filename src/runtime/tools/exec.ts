import { z } from "zod";
import type { ExecRequest, ExecResult } from "../sandbox/types";
import type { ToolDefinition } from "./types";

export interface ExecToolOptions {
  /** Where commands run: a SandboxPool (pool.ts) in the gateway. */
  sandbox: { exec(orgId: string, request: ExecRequest): Promise<ExecResult> };
  /** Characters of stdout and of stderr shown to the model, each (default 20,000). */
  maxOutputChars?: number;
  defaultTimeoutSeconds?: number;
  maxTimeoutSeconds?: number;
}

const input = z.object({
  command: z.string().min(1).max(100_000).describe("Shell command, run with `sh -c` in /workspace."),
  timeoutSeconds: z
    .number()
    .positive()
    .optional()
    .describe("Wall-clock limit in seconds (default 30, at most 120); the command and its children are killed after it."),
});

export type ExecInput = z.infer<typeof input>;

/**
 * The `exec` tool: a shell command in the org's sandbox (no network, /workspace read-write,
 * the rest of the system read-only), with exit code, stdout and stderr capped for the model.
 */
export function createExecTool(options: ExecToolOptions): ToolDefinition<ExecInput> {
  const maxChars = options.maxOutputChars ?? 20_000;
  const defaultSeconds = options.defaultTimeoutSeconds ?? 30;
  const maxSeconds = options.maxTimeoutSeconds ?? 120;
  return {
    name: "exec",
    description:
      "Run a shell command (sh -c) in your private Linux sandbox. The working directory is /workspace, " +
      "which persists between calls and is shared with read_file/write_file; everything else (cd, variables, /tmp) " +
      "starts fresh on each call. python3, node and the usual " +
      "command-line tools are available; there is no network access. Returns the exit code, stdout and stderr.",
    tier: "pro",
    input,
    // Room for the longest command plus a wait for a free sandbox.
    timeoutMs: (maxSeconds + 30) * 1000,
    async execute(args, context) {
      const seconds = Math.min(args.timeoutSeconds ?? defaultSeconds, maxSeconds);
      const result = await options.sandbox.exec(context.orgId, {
        command: args.command,
        timeoutMs: Math.round(seconds * 1000),
        signal: context.signal,
        // UTF-8 needs up to 4 bytes a character; the cut to characters happens below.
        maxOutputBytes: maxChars * 4,
      });
      return { content: formatExecResult(result, maxChars, seconds), isError: result.exitCode !== 0 };
    },
  };
}

/** The text the model sees for one command. */
export function formatExecResult(result: ExecResult, maxChars: number, timeoutSeconds: number): string {
  const lines: string[] = [];
  if (result.killed === "timeout") {
    lines.push(`Killed: the command timed out after ${timeoutSeconds} s; every process it started was killed.`);
  } else if (result.killed === "aborted") {
    lines.push("Killed: the run was cancelled; every process the command started was killed.");
  } else if (result.signal) {
    lines.push(`Exit code: ${result.exitCode} (ended by ${result.signal}${limitHint(result.signal)})`);
  } else {
    lines.push(`Exit code: ${result.exitCode}`);
  }
  lines.push(section("stdout", result.stdout, result.stdoutBytes, maxChars));
  lines.push(section("stderr", result.stderr, result.stderrBytes, maxChars));
  return lines.join("\n\n");
}

function section(name: string, text: string, totalBytes: number, maxChars: number): string {
  if (totalBytes === 0) return `${name}: (empty)`;
  let shown = text;
  let cut = Buffer.byteLength(text) < totalBytes;
  if (shown.length > maxChars) {
    shown = shown.slice(0, maxChars);
    cut = true;
  }
  const note = cut ? `\n[${name} cut: showing the first ${shown.length} characters of ${totalBytes} bytes]` : "";
  return `${name}:\n${shown}${note}`;
}

function limitHint(signal: string): string {
  if (signal === "SIGXCPU") return ": CPU time limit reached";
  if (signal === "SIGXFSZ") return ": file size limit or workspace quota reached";
  if (signal === "SIGKILL") return ": killed, possibly for using too much memory";
  return "";
}
