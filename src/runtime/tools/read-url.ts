/**
 * read_url: fetch one web page through the guarded fetcher and hand the model its readable text.
 *
 * HTML goes through Readability (over linkedom's DOM) and turndown, so the model gets the
 * article as markdown rather than navigation, scripts and markup. The result is data for the
 * model: the loop wraps it as untrusted tool output; nothing here interprets it.
 */
import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";
import TurndownService from "turndown";
import { z } from "zod";
import { FetchLimitError, FetchRefusedError, type GuardedFetcher } from "./net/guarded-fetch";
import type { ToolDefinition, ToolOutput } from "./types";

export interface ReadUrlToolOptions {
  fetcher: Pick<GuardedFetcher, "request">;
  /** Longest text returned to the model (default 40000 characters); the rest is cut with a note. */
  maxOutputChars?: number;
  /** Wall-clock limit of one call (default 30000 ms); the fetcher has its own, usually shorter, deadline. */
  timeoutMs?: number;
}

const inputSchema = z.object({
  url: z.string().min(1).max(4096).describe("The http(s) URL of the page to read."),
});

/** What a fetched page became: a title (maybe empty) and its text. */
interface Extracted {
  title: string;
  text: string;
}

/** Builds the read_url tool (free tier). */
export function createReadUrlTool(options: ReadUrlToolOptions): ToolDefinition<{ url: string }> {
  const maxOutputChars = options.maxOutputChars ?? 40_000;
  return {
    name: "read_url",
    description:
      "Fetch a public web page (http or https) and return its main content as markdown, with its title and final URL. " +
      "Works for HTML, plain text and JSON. Private and internal network addresses are refused.",
    tier: "free",
    input: inputSchema,
    timeoutMs: options.timeoutMs ?? 30_000,
    async execute(input, context): Promise<ToolOutput> {
      let response: Awaited<ReturnType<GuardedFetcher["request"]>>;
      try {
        response = await options.fetcher.request(input.url.trim(), {
          signal: context.signal,
          onOversize: "truncate",
          headers: {
            accept: "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.9,*/*;q=0.5",
          },
        });
      } catch (error) {
        return { content: fetchErrorMessage(error, context.signal), isError: true };
      }
      if (response.status >= 400) {
        return {
          content: `HTTP ${response.status} from ${response.url}: ${snippet(decode(response.body, charsetOf(response.headers.get("content-type"))))}`,
          isError: true,
        };
      }
      const contentType = response.headers.get("content-type");
      const kind = classify(contentType, response.body);
      if (kind === "unsupported") {
        return {
          content: `Cannot read ${response.url}: content type ${contentType ?? "(none)"} is not text, HTML or JSON.`,
          isError: true,
        };
      }
      const charset = charsetOf(contentType) ?? (kind === "html" ? sniffHtmlCharset(response.body) : null);
      const text = decode(response.body, charset);
      const extracted = kind === "html" ? htmlToMarkdown(text, response.url) : { title: "", text };
      return { content: format(extracted, response.url, response.truncated, maxOutputChars) };
    },
  };
}

function fetchErrorMessage(error: unknown, signal: AbortSignal): string {
  if (error instanceof FetchRefusedError) return error.message;
  if (error instanceof FetchLimitError) return `Could not read the page: ${error.message}`;
  if (signal.aborted) return "Cancelled before the page was read";
  return `Could not read the page: ${error instanceof Error ? error.message : String(error)}`;
}

type Kind = "html" | "text" | "unsupported";

function classify(contentType: string | null, body: Uint8Array): Kind {
  const mime = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (mime === "text/html" || mime === "application/xhtml+xml") return "html";
  if (mime.startsWith("text/")) return "text";
  if (mime === "application/json" || mime.endsWith("+json")) return "text";
  if (mime === "application/xml" || mime.endsWith("+xml")) return "text"; // feeds, sitemaps
  if (mime === "") {
    // No declared type: accept what is plainly text, never guess binaries into text.
    const head = new TextDecoder("utf-8").decode(body.subarray(0, 1024));
    if (head.includes("\u0000") || head.includes("\ufffd")) return "unsupported";
    return /^\s*(<!doctype html|<html)/i.test(head) ? "html" : "text";
  }
  return "unsupported";
}

function charsetOf(contentType: string | null): string | null {
  const match = contentType?.match(/charset\s*=\s*"?([^";\s]+)/i);
  return match ? match[1] : null;
}

/** `<meta charset>` or the http-equiv form, in the first KiB as HTML5 prescribes. */
function sniffHtmlCharset(body: Uint8Array): string | null {
  const head = new TextDecoder("latin1").decode(body.subarray(0, 1024));
  const match = head.match(/<meta[^>]+charset\s*=\s*["']?([\w-]+)/i);
  return match ? match[1] : null;
}

function decode(body: Uint8Array, charset: string | null): string {
  try {
    return new TextDecoder(charset ?? "utf-8").decode(body);
  } catch {
    return new TextDecoder("utf-8").decode(body); // an unknown label: UTF-8 is the best guess
  }
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat || "(empty body)";
}

const turndown = new TurndownService({ headingStyle: "atx", codeBlockStyle: "fenced", bulletListMarker: "-" });
turndown.remove(["script", "style", "noscript", "template", "iframe"]);

/** Readability's article as markdown; the whole body's text when Readability finds no article. */
export function htmlToMarkdown(html: string, pageUrl: string): Extracted {
  // linkedom builds no document element for a bare fragment; give it one, as browsers would.
  const source = /<html[\s>]/i.test(html) ? html : `<!doctype html><html><head></head><body>${html}</body></html>`;
  try {
    return extract(source, pageUrl);
  } catch {
    // A document linkedom or Readability chokes on still has text worth returning.
    return { title: "", text: collapse(source.replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ").replace(/<[^>]*>/g, " ")) };
  }
}

function extract(html: string, pageUrl: string): Extracted {
  const { document } = parseHTML(html);
  // Readability resolves links against the document's base URI, which linkedom only knows from <base>.
  const existingBase = document.querySelector("base[href]")?.getAttribute("href");
  let baseHref = pageUrl;
  if (existingBase) {
    try {
      baseHref = new URL(existingBase, pageUrl).href;
    } catch {
      // a broken <base> is ignored, as browsers do
    }
  }
  let head = document.querySelector("head");
  if (!head && document.documentElement) {
    head = document.createElement("head");
    document.documentElement.prepend(head);
  }
  for (const base of document.querySelectorAll("base")) base.remove();
  const base = document.createElement("base");
  base.setAttribute("href", baseHref);
  head?.prepend(base);

  const fallbackTitle = (document.querySelector("title")?.textContent ?? "").trim();
  let article: ReturnType<Readability["parse"]> = null;
  try {
    article = new Readability(document as unknown as Document).parse();
  } catch {
    article = null;
  }
  const markdown = article?.content ? tidyMarkdown(turndown.turndown(article.content)) : "";
  if (markdown) return { title: (article?.title || fallbackTitle).trim(), text: markdown };

  // Readability mutated the first DOM; the fallback reads a fresh one.
  const fresh = parseHTML(html).document;
  for (const el of fresh.querySelectorAll("script, style, noscript, template")) el.remove();
  return { title: fallbackTitle, text: collapse(fresh.body?.textContent ?? fresh.documentElement?.textContent ?? "") };
}

/** Turndown pads list markers to four columns ("-   item"); one space says the same in fewer tokens. */
function tidyMarkdown(markdown: string): string {
  return markdown
    .replace(/^(\s*)([-*+]|\d+\.) {2,}/gm, "$1$2 ")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

function collapse(text: string): string {
  return text
    .replace(/[ \t\f\v\r]+/g, " ")
    .replace(/\s*\n\s*/g, "\n")
    .trim();
}

function format(extracted: Extracted, url: string, truncatedBody: boolean, maxChars: number): string {
  const lines: string[] = [];
  if (extracted.title) lines.push(`Title: ${extracted.title}`);
  lines.push(`URL: ${url}`);
  let text = extracted.text || "(the page has no readable text)";
  const notes: string[] = [];
  if (truncatedBody) notes.push("the page was larger than the download limit and was cut");
  if (text.length > maxChars) {
    notes.push(`${text.length - maxChars} more characters were cut`);
    text = text.slice(0, maxChars);
  }
  lines.push("", text);
  if (notes.length > 0) lines.push("", `[Truncated: ${notes.join("; ")}.]`);
  return lines.join("\n");
}
