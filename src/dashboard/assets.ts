import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Hono } from "hono";
import type { AppEnv } from "../http/context";

interface Asset {
  body: string;
  type: string;
  version: string;
}

/** Read once at startup: htmx vendored from node_modules (no CDN), and the dashboard's own CSS and JS. */
function loadAssets(): Map<string, Asset> {
  const require = createRequire(import.meta.url);
  const files: Array<[string, string, string]> = [
    ["htmx.min.js", require.resolve("htmx.org/dist/htmx.min.js"), "text/javascript; charset=utf-8"],
    ["app.css", new URL("./static/app.css", import.meta.url).pathname, "text/css; charset=utf-8"],
    ["app.js", new URL("./static/app.js", import.meta.url).pathname, "text/javascript; charset=utf-8"],
  ];
  const assets = new Map<string, Asset>();
  for (const [name, path, type] of files) {
    const body = readFileSync(path, "utf8");
    assets.set(name, { body, type, version: createHash("sha256").update(body).digest("hex").slice(0, 10) });
  }
  return assets;
}

const assets = loadAssets();

/**
 * The URL of an asset, versioned by its content hash: assets may then be cached for a year
 * (immutable) and a new deployment still reaches every browser at once.
 */
export function assetUrl(name: "htmx.min.js" | "app.css" | "app.js"): string {
  return `/assets/${name}?v=${assets.get(name)?.version}`;
}

/** `GET /assets/:name`. */
export function assetRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/assets/:name", (c) => {
    const asset = assets.get(c.req.param("name"));
    if (!asset) return c.text("Not found", 404);
    c.header("Content-Type", asset.type);
    c.header("Cache-Control", "public, max-age=31536000, immutable");
    c.header("X-Content-Type-Options", "nosniff");
    return c.body(asset.body);
  });
  return app;
}
