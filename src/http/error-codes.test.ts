import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, statusOfType } from "./errors";

const root = join(import.meta.dirname, "../..");

/** The rows of the README's "Error codes" table: code, status, type. */
function readmeCodes(): Array<{ code: string; status: number; type: string }> {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### Error codes"));
  const table = section.slice(0, section.indexOf("\n###"));
  return [...table.matchAll(/^\| `(\w+)` \| (\d{3}) \| `(\w+)` \|/gm)].map((m) => ({ code: m[1], status: Number(m[2]), type: m[3] }));
}

/** Product source files (not tests). */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

describe("error codes", () => {
  it("the README lists exactly the gateway's codes, each with its type and status", () => {
    const rows = readmeCodes();
    expect(rows.map((r) => r.code)).toEqual(Object.keys(ERROR_CODES));
    for (const row of rows) {
      const { type, meaning } = ERROR_CODES[row.code as keyof typeof ERROR_CODES];
      expect(row.type, row.code).toBe(type);
      // A code whose status is not its type's says so at the start of its meaning ("410: ...").
      expect(row.status, row.code).toBe(Number(/^(\d{3}):/.exec(meaning)?.[1] ?? statusOfType[type]));
    }
  });

  it("every listed code is one the gateway can answer (named in product code, or the default of its type)", () => {
    const errorsFile = join(root, "src/http/errors.ts");
    const errorsSource = readFileSync(errorsFile, "utf8");
    const defaults = errorsSource.slice(errorsSource.indexOf("const defaultCodeOfType"));
    const code = sources(join(root, "src"))
      .filter((path) => path !== errorsFile)
      .map((path) => readFileSync(path, "utf8"))
      .join("\n");
    const used = (name: string) => code.includes(`"${name}"`) || defaults.includes(`"${name}"`) || errorsSource.split(`code: "${name}"`).length > 1;
    expect(Object.keys(ERROR_CODES).filter((name) => !used(name))).toEqual([]);
  });
});
