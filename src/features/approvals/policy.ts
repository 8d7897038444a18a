/**
 * Which tool calls of an agent wait for a person's decision (DESIGN.md §6 `approvalRequired`):
 * the tools named, or every tool with "*". `mcp_call` stands for the MCP servers' tools a run
 * gets in its place (`mcp__<server>__<tool>`), so enabling MCP behind an approval covers them all.
 */
export function approvalRequiredFor(approvalRequired: readonly string[]): (call: { name: string }) => boolean {
  const names = new Set(approvalRequired);
  if (names.has("*")) return () => true;
  return (call) => names.has(call.name) || (names.has("mcp_call") && call.name.startsWith("mcp__"));
}

/** What a subagent's run returns for a call that needs an approval: it cannot wait (its parent's tool call is running). */
export const SUBAGENT_APPROVAL_REFUSAL =
  "This tool needs a person's approval, which a subagent's run cannot wait for. Do without it, or tell the caller it must be run by the agent itself.";

/** The reason given to the model for a call nobody decided in time. */
export const timeoutReason = (hours: number): string => `No decision was made within ${hours} hour${hours === 1 ? "" : "s"}; the call was denied.`;

/** What the model receives for a denied call. */
export function deniedResult(reason: string | null): string {
  return reason ? `A person denied this tool call: ${reason}` : "A person denied this tool call.";
}
