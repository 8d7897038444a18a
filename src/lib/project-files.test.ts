import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_DIR, projectFile } from "./project-files";

/** Every .ts file under src/, tests excluded. */
function sources(dir = join(PROJECT_DIR, "src")): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );
}

describe("project files", () => {
  it("finds the project's directory", () => {
    expect(JSON.parse(readFileSync(join(PROJECT_DIR, "package.json"), "utf8")).name).toBe("openpaw");
    expect(projectFile("src/main.ts")).toBe(join(PROJECT_DIR, "src", "main.ts"));
  });

  it("every file named by projectFile in src/ exists, and no run-time file is found from import.meta.url (the bundle moves it)", () => {
    const missing: string[] = [];
    const relative: string[] = [];
    for (const file of sources()) {
      const text = readFileSync(file, "utf8");
      // A literal names a file; a template (the sandbox programs) a family of them, whose directory must exist.
      for (const m of text.matchAll(/projectFile\("([^"]+)"\)/g)) if (!existsSync(projectFile(m[1]))) missing.push(`${file}: ${m[1]}`);
      for (const m of text.matchAll(/projectFile\(`([^`$]*)\$\{/g)) {
        const dir = m[1].slice(0, m[1].lastIndexOf("/"));
        if (!existsSync(projectFile(dir))) missing.push(`${file}: ${dir}/`);
      }
      if (/new URL\([^)]*import\.meta\.url\)/.test(text)) relative.push(file);
    }
    expect(missing).toEqual([]);
    expect(relative).toEqual([]);
  });
});
