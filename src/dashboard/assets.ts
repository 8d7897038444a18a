import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Context, Hono } from "hono";
import type { AppEnv } from "../http/context";
import { projectFile } from "../lib/project-files";

interface Asset {
  body: Uint8Array;
  type: string;
  version: string;
}

const require = createRequire(import.meta.url);
const own = (file: string) => projectFile(`src/dashboard/static/${file}`);
const swagger = (file: string) => require.resolve(`swagger-ui-dist/${file}`);

/**
 * Read once at startup: htmx and Swagger UI vendored from node_modules (no CDN, nothing fetched
 * at run time), and the dashboard's own CSS, JS and icons.
 */
const FILES = {
  "htmx.min.js": [require.resolve("htmx.org/dist/htmx.min.js"), "text/javascript; charset=utf-8"],
  "app.css": [own("app.css"), "text/css; charset=utf-8"],
  "app.js": [own("app.js"), "text/javascript; charset=utf-8"],
  "logo.svg": [own("logo.svg"), "image/svg+xml"],
  "favicon.ico": [own("favicon.ico"), "image/vnd.microsoft.icon"],
  "swagger-ui.css": [swagger("swagger-ui.css"), "text/css; charset=utf-8"],
  "swagger-ui-bundle.js": [swagger("swagger-ui-bundle.js"), "text/javascript; charset=utf-8"],
  "docs.js": [own("docs.js"), "text/javascript; charset=utf-8"],
  "docs.css": [own("docs.css"), "text/css; charset=utf-8"],
} as const;

export type AssetName = keyof typeof FILES;

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, [path, type]] of Object.entries(FILES)) {
    const body = new Uint8Array(readFileSync(path));
    assets.set(name, { body, type, version: createHash("sha256").update(body).digest("hex").slice(0, 10) });
  }
  return assets;
}

const assets = loadAssets();

/**
 * The URL of an asset, versioned by its content hash: assets may then be cached for a year
 * (immutable) and a new deployment still reaches every browser at once.
 */
export function assetUrl(name: AssetName): string {
  return `/assets/${name}?v=${assets.get(name)?.version}`;
}

function serve(c: Context<AppEnv>, asset: Asset, cacheControl: string): Response {
  c.header("Content-Type", asset.type);
  c.header("Cache-Control", cacheControl);
  c.header("X-Content-Type-Options", "nosniff");
  return c.body(asset.body as Uint8Array<ArrayBuffer>);
}

/** `GET /assets/:name`, and `/favicon.ico`, which browsers ask for on their own. */
export function assetRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/assets/:name", (c) => {
    const asset = assets.get(c.req.param("name"));
    if (!asset) return c.text("Not found", 404);
    return serve(c, asset, "public, max-age=31536000, immutable");
  });
  app.get("/favicon.ico", (c) => serve(c, assets.get("favicon.ico") as Asset, "public, max-age=86400"));
  return app;
}
