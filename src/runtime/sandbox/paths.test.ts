import { describe, expect, it } from "vitest";
import { displayPath, parseWorkspacePath, workspaceDir } from "./paths";

describe("parseWorkspacePath", () => {
  it("accepts relative and /workspace paths", () => {
    expect(parseWorkspacePath("a/b.txt")).toEqual(["a", "b.txt"]);
    expect(parseWorkspacePath("./a//b/")).toEqual(["a", "b"]);
    expect(parseWorkspacePath("/workspace/a")).toEqual(["a"]);
    expect(parseWorkspacePath("/workspace")).toEqual([]);
    expect(parseWorkspacePath("%2e%2e/x")).toEqual(["%2e%2e", "x"]);
  });

  it.each(["..", "a/..", "../x", "/etc", "/workspace2/x", "/workspace/../x", "a\0b", ""])("refuses %j", (path) => {
    expect(() => parseWorkspacePath(path)).toThrow(/refused path/);
  });

  it("maps segments back to what the agent sees", () => {
    expect(displayPath(["a", "b"])).toBe("/workspace/a/b");
    expect(displayPath([])).toBe("/workspace");
  });

  it("puts workspaces under the data directory, one per org", () => {
    expect(workspaceDir("/data", "org_1")).toBe("/data/workspaces/org_1");
    expect(() => workspaceDir("/data", "../x")).toThrow();
  });
});
