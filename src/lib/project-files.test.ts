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
    const named: string[] = [];
    const relative: string[] = [];
    for (const file of sources()) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/projectFile\(`([^`$]*)\$\{[^}]+\}([^`]*)`\)/g)) named.push(`${file}: ${m[1]}*${m[2]}`);
      for (const m of text.matchAll(/projectFile\("([^"]+)"\)/g)) {
        if (!existsSync(projectFile(m[1]))) named.push(`${file}: ${m[1]} is missing`);
      }
      if (/new URL\([^)]*import\.meta\.url\)/.test(text)) relative.push(file);
    }
    expect(named.filter((n) => n.endsWith("is missing"))).toEqual([]);
    // A template names a family of files (the sandbox programs); its directory must exist.
    for (const n of named.filter((x) => x.includes("*"))) {
      const dir = n.split(": ")[1].split("*")[0].replace(/\/[^/]*$/, "");
      expect(existsSync(projectFile(dir)), n).toBe(true);
    }
    expect(relative).toEqual([]);
  });
});
