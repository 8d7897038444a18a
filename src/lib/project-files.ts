import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The project's own directory (the one holding package.json, src/ and skills/), found from this
 * module's location. A path relative to `import.meta.url` would mean different places in the two
 * ways the gateway runs: from its TypeScript through tsx (tests, the CLI), this module is
 * src/lib/project-files.ts; from the bundle `npm start` runs (build/gateway.mjs, see
 * docs/deployment.md "Build"), every module's `import.meta.url` is the bundle's. So files the
 * gateway reads at run time (sandbox scripts, the dashboard's static files, the built-in skills)
 * are named from here, as paths within the project.
 *
 * @example
 * readFileSync(projectFile("src/runtime/sandbox/close-fds.sh"), "utf8");
 */
export const PROJECT_DIR = findProjectDir(dirname(fileURLToPath(import.meta.url)));

/** An absolute path to `relative` (slash-separated, from the project's directory). */
export function projectFile(relative: string): string {
  return join(PROJECT_DIR, ...relative.split("/"));
}

function findProjectDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "src", "main.ts"))) return dir;
    if (dirname(dir) === dir) throw new Error(`OpenPaw's project directory (package.json and src/main.ts) is not above ${from}`);
  }
}
