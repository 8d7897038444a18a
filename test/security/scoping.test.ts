/**
 * Tenant scoping of the repositories, read from the source: every exported function of a
 * repository takes the org (an `orgId`, or a row or filter that carries `org_id`/`orgId`) and uses
 * it, or its doc comment says "Cross-tenant on purpose" and why (key lookup, host routing,
 * sweeps, accounts). A new query of tenant data that forgets the org fails here before any
 * isolation test has to find it.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const FEATURES = join(import.meta.dirname, "../../src/features");
const MARK = "Cross-tenant on purpose";

interface Exported {
  file: string;
  name: string;
  doc: string;
  params: string;
  body: string;
}

/** Exported functions of a source file with their doc comment, parameter list and body text. */
function exportedFunctions(file: string, text: string): Exported[] {
  const out: Exported[] = [];
  const starts = [...text.matchAll(/(\/\*\*(?:(?!\*\/)[\s\S])*\*\/\s*)?export (?:async )?function (\w+)\s*(?:<[^(]*>)?\(/g)];
  starts.forEach((m, i) => {
    let depth = 1;
    let j = (m.index as number) + m[0].length;
    const from = j;
    while (depth > 0 && j < text.length) {
      if (text[j] === "(") depth++;
      else if (text[j] === ")") depth--;
      j++;
    }
    const end = i + 1 < starts.length ? (starts[i + 1].index as number) : text.length;
    out.push({ file, name: m[2], doc: m[1] ?? "", params: text.slice(from, j - 1), body: text.slice(j, end) });
  });
  return out;
}

const repositories = readdirSync(FEATURES, { recursive: true, encoding: "utf8" }).filter(
  (f) => /(^|\/|-)repository\.ts$/.test(f),
);

/** True when the parameters name the org: orgId, or a table row / filter type that carries it. */
const takesOrg = (params: string) => /\borgId\b/.test(params) || /:\s*(\w+Table|\w+Filter)\b/.test(params);

describe("repository scoping", () => {
  it("finds the repositories", () => {
    expect(repositories.length).toBeGreaterThanOrEqual(10);
  });

  it("scopes every exported query by org, or marks it cross-tenant on purpose", () => {
    const wrong: string[] = [];
    const marked: string[] = [];
    for (const file of repositories) {
      for (const fn of exportedFunctions(file, readFileSync(join(FEATURES, file), "utf8"))) {
        if (fn.doc.includes(MARK)) marked.push(`${file} ${fn.name}`);
        else if (!takesOrg(fn.params)) wrong.push(`${file} ${fn.name}: takes no org and is not marked "${MARK}"`);
        else if (/\borgId\b/.test(fn.params) && !/\borgId\b/.test(fn.body)) wrong.push(`${file} ${fn.name}: takes orgId but never uses it`);
      }
    }
    expect(wrong).toEqual([]);
    console.log(`repository scoping: cross-tenant on purpose: ${marked.join("; ")}`);
  });
});
