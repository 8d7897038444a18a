import type { Context } from "hono";
import type { AppEnv } from "../http/context";
import { errors } from "../http/errors";
import { checkJsonBounds } from "../lib/json-bounds";

/** Bodies built from forms (metadata is JSON a person typed) are bounded before being serialised. */
const BODY_LIMITS = { maxDepth: 64, maxBytes: 8 * 1024 * 1024 };

/** What the dashboard needs of the app: its in-process `request`. */
export interface ApiApp {
  request(input: string | Request | URL, init?: RequestInit, env?: unknown): Response | Promise<Response>;
}

export interface ApiResult<T = any> {
  ok: boolean;
  status: number;
  body: T;
  headers: Headers;
  /** The error envelope's message and field, when the call failed. */
  error?: { message: string; param?: string };
}

export interface ApiCallOptions {
  body?: unknown;
  /** A body sent as is with its own content type (SKILL.md, file uploads). */
  raw?: { data: BodyInit; contentType: string };
}

/**
 * The URL of an in-process API call, refusing any path that is not exactly itself: one that URL
 * parsing would rewrite (dot segments, `%2e%2e`, backslashes) or whose segments decode to a
 * slash. A hostile id can then never turn a call into one on another route.
 */
export function inProcessUrl(c: Context<AppEnv>, path: string): string {
  const url = new URL(path, c.req.url);
  const pathname = path.split(/[?#]/, 1)[0];
  const segments = pathname.split("/").map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return null;
    }
  });
  if (url.pathname !== pathname || segments.some((s) => s === null || /[/\\]/.test(s) || s === "." || s === "..")) {
    throw errors.notFound("Page");
  }
  return url.toString();
}

/**
 * Calls the JSON API in process as the browser's user: the dashboard forwards the session cookie,
 * Host, Origin and Sec-Fetch-Site, so authentication, org scoping, permissions, validation, quotas
 * and CSRF rules are the API's own, in one place. `c.env` carries the socket, so rate limits by
 * client IP see the real client.
 */
export async function callApi<T = any>(
  api: ApiApp,
  c: Context<AppEnv>,
  method: string,
  path: string,
  options: ApiCallOptions = {},
): Promise<ApiResult<T>> {
  const headers = new Headers();
  for (const name of ["cookie", "host", "origin", "sec-fetch-site", "user-agent", "x-forwarded-for", "x-forwarded-proto"]) {
    const value = c.req.header(name);
    if (value !== undefined) headers.set(name, value);
  }
  headers.set("accept", "application/json");
  let body: BodyInit | undefined;
  if (options.raw) {
    body = options.raw.data;
    headers.set("content-type", options.raw.contentType);
  } else if (options.body !== undefined) {
    const bounds = checkJsonBounds(options.body, BODY_LIMITS);
    if (!bounds.ok) throw errors.invalid(`The form's data was refused: ${bounds.message}`);
    body = JSON.stringify(options.body);
    headers.set("content-type", "application/json");
  }
  if (typeof body === "string") headers.set("content-length", String(Buffer.byteLength(body)));
  else if (body instanceof Uint8Array) headers.set("content-length", String(body.byteLength));
  const res = await api.request(inProcessUrl(c, path), { method, headers, body }, c.env);
  const text = res.status === 204 ? "" : await res.text();
  let parsed: any = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  const ok = res.status >= 200 && res.status < 300;
  const error = ok
    ? undefined
    : { message: parsed?.error?.message ?? `Request failed (${res.status}).`, param: parsed?.error?.param as string | undefined };
  return { ok, status: res.status, body: parsed as T, headers: res.headers, error };
}
