#!/usr/bin/env node
// Bundles the gateway into one ES module, build/gateway.mjs, that plain Node runs (npm start, the
// Docker image, the benchmark). Packages stay external (node_modules is resolved at run time, the
// native better-sqlite3 included). Why a bundle rather than tsx at run time: tsx transpiles with
// esbuild's keepNames, which wraps every named function and class in a `name` property set at
// run time; a request makes dozens of closures, so that is CPU and heap on every request
// (BENCHMARKS.md, session 8). Files the gateway reads at run time are found from the project's
// directory (src/lib/project-files.ts), so the bundle reads them where tsx would.
import { build } from "esbuild";

const outfile = process.argv[2] ?? "build/gateway.mjs";
await build({
  entryPoints: ["src/main.ts"],
  outfile,
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node20",
  // Run with --enable-source-maps (npm start does), stack traces name the TypeScript sources.
  sourcemap: true,
  banner: { js: "// Built by bin/build.mjs from src/; edit the TypeScript, not this file." },
  logLevel: "warning",
});
