import { createExecTool, type ExecToolOptions } from "../tools/exec";
import { createReadFileTool, createWriteFileTool, type FileToolsOptions } from "../tools/files";
import type { ToolDefinition, UnavailableTool } from "../tools/types";
import type { SandboxBackend, WorkspaceFiles } from "./types";

export interface SandboxToolsOptions {
  /** Probed once here: the tools are only offered when a real sandbox starts. */
  backend: SandboxBackend;
  /** Usually a SandboxPool over the same backend. */
  sandbox: ExecToolOptions["sandbox"];
  files: WorkspaceFiles;
  exec?: Omit<ExecToolOptions, "sandbox">;
  fileTools?: Omit<FileToolsOptions, "files">;
}

const NAMES = ["exec", "read_file", "write_file"] as const;

/**
 * exec, read_file and write_file when the backend's probe passes; otherwise all three are
 * reported unavailable with the probe's reason. They go together because the files tools share
 * the workspace that exec works in, and nothing ever runs unsandboxed.
 */
export async function createSandboxTools(
  options: SandboxToolsOptions,
): Promise<{ tools: ToolDefinition<any>[]; unavailable: UnavailableTool[] }> {
  const probe = await options.backend.probe();
  if (!probe.ok) return { tools: [], unavailable: NAMES.map((name) => ({ name, reason: probe.reason })) };
  const fileOptions = { ...options.fileTools, files: options.files };
  return {
    tools: [
      createExecTool({ ...options.exec, sandbox: options.sandbox }),
      createReadFileTool(fileOptions),
      createWriteFileTool(fileOptions),
    ],
    unavailable: [],
  };
}
