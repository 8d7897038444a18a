import { join } from "node:path";
import { WorkspaceError } from "./types";

/** Where the agent sees its workspace inside the sandbox. */
export const WORKSPACE_MOUNT = "/workspace";

const ORG_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_PATH_CHARS = 4096;
const MAX_SEGMENT_BYTES = 255;

/**
 * Host directory of an org's workspace: `<dataDir>/workspaces/<orgId>`. The org id is checked
 * against a strict pattern because it becomes a path segment.
 */
export function workspaceDir(dataDir: string, orgId: string): string {
  if (!ORG_ID.test(orgId)) throw new WorkspaceError("invalid_path", `invalid org id ${JSON.stringify(orgId)}`);
  return join(dataDir, "workspaces", orgId);
}

/**
 * Splits a path given by the agent or an API user into segments below /workspace, refusing
 * everything that could name a place outside it. Accepted: `notes.txt`, `./a/b`, `/workspace/a`,
 * `/workspace`. Refused: any `..` segment (even one that would stay inside: the rule is simpler
 * to audit than a normaliser), absolute paths not under /workspace, NUL bytes, empty paths and
 * over-long names. Symlinks are dealt with later, against the real file system (files.ts).
 */
export function parseWorkspacePath(input: string): string[] {
  if (typeof input !== "string" || input.trim() === "") throw invalid(input, "the path is empty");
  if (input.includes("\0")) throw invalid(input, "the path contains a NUL byte");
  if (input.length > MAX_PATH_CHARS) throw invalid(input, `the path is longer than ${MAX_PATH_CHARS} characters`);
  let rest = input;
  if (rest.startsWith("/")) {
    if (rest !== WORKSPACE_MOUNT && !rest.startsWith(`${WORKSPACE_MOUNT}/`)) {
      throw invalid(input, `absolute paths must be inside ${WORKSPACE_MOUNT}`);
    }
    rest = rest.slice(WORKSPACE_MOUNT.length);
  }
  const segments: string[] = [];
  for (const segment of rest.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") throw invalid(input, "'..' is not allowed in workspace paths");
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) throw invalid(input, "a path segment is longer than 255 bytes");
    segments.push(segment);
  }
  return segments;
}

/** The path the agent sees for a list of segments (`/workspace/a/b`). */
export function displayPath(segments: readonly string[]): string {
  return segments.length === 0 ? WORKSPACE_MOUNT : `${WORKSPACE_MOUNT}/${segments.join("/")}`;
}

function invalid(input: string, why: string): WorkspaceError {
  const shown = typeof input === "string" ? JSON.stringify(input.slice(0, 200)) : String(input);
  return new WorkspaceError("invalid_path", `refused path ${shown}: ${why}`);
}
