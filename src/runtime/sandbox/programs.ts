import { build } from "esbuild";
import { projectFile } from "../../lib/project-files";

/** The programs the gateway runs inside sandboxes; each is a .ts file of this directory. */
export type SandboxProgram = "workspace-helper" | "browser-launcher";

const bundles = new Map<SandboxProgram, Promise<string>>();

/**
 * The source of a sandboxed program as one ES module for plain Node. It is handed to bwrap from
 * memory (a host path would need to be readable by the sandbox's user, and would show in its
 * mount table), so the program is bundled with the modules it shares with the gateway. esbuild
 * is what tsx runs the gateway's TypeScript with; bundling takes some tens of ms, once per process.
 */
export function sandboxProgram(name: SandboxProgram): Promise<string> {
  let bundle = bundles.get(name);
  if (!bundle) {
    bundle = build({
      entryPoints: [projectFile(`src/runtime/sandbox/${name}.ts`)],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      write: false,
      logLevel: "silent",
    }).then((result) => result.outputFiles[0].text);
    bundle.catch(() => bundles.delete(name));
    bundles.set(name, bundle);
  }
  return bundle;
}
