import type { AgentsTable } from "../../db/schema";

/** Longest tool name: within what MCP clients accept everywhere (Claude's limit is 64). */
const MAX_NAME = 64;

/** A tool name from an agent's name: lower-case letters, digits and `_`, at most 48 characters. */
export function slugOf(name: string): string {
  const slug = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 48)
    .replace(/_+$/, "");
  return slug || "agent";
}

/**
 * The tool name of each of an org's agents, unique and stable: its name as a slug; when an older
 * agent already has that slug, the slug and a part of the agent's id. Assigned oldest first over
 * all the org's agents (not only those a key sees), so an agent keeps its name for every key and
 * as long as the agents before it exist.
 */
export function toolNamesOf(agents: readonly AgentsTable[]): Map<string, AgentsTable> {
  const ordered = [...agents].sort((x, y) => x.created_at - y.created_at || (x.id < y.id ? -1 : 1));
  const names = new Map<string, AgentsTable>();
  for (const agent of ordered) {
    const base = slugOf(agent.name);
    const random = agent.id.slice(agent.id.indexOf("_") + 1);
    let name = base;
    if (names.has(name)) name = `${base}_${random.slice(0, 8)}`;
    if (names.has(name)) name = `${base}_${random}`.slice(0, MAX_NAME);
    names.set(name, agent);
  }
  return names;
}
