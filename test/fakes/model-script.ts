/**
 * The script language shared by the fake model servers (Anthropic, OpenAI-compatible) and the
 * HTTP harness both run on. A test enqueues `FakeTurn`s; each HTTP call to the fake consumes one
 * turn (or asks the fallback) and the dialect renders it in its own wire format.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeToolCall {
  /** Wire id of the call; generated (`toolu_fake_<n>` / `call_fake_<n>`) when absent. */
  id?: string;
  name: string;
  input: unknown;
  /** Sent verbatim as the input's JSON text instead of `JSON.stringify(input)` (e.g. broken JSON). */
  rawInput?: string;
}

export interface FakeUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  /** Anthropic only: OpenAI-compatible servers report no cache writes. */
  cacheWriteTokens?: number;
}

/** Neutral stop reasons; each dialect maps them to its own vocabulary. */
export type FakeStopReason = "end_turn" | "tool_use" | "max_tokens" | "stop_sequence" | "refusal";

/** Which error a scripted in-stream error event (`errorAfterEvents`) reports. */
export type FakeStreamErrorKind = "overloaded" | "server" | "rate_limited";

/** One scripted model response. */
export interface FakeTurn {
  text?: string;
  /** Anthropic only: a thinking block before the rest (thinking_delta, then signature_delta), signed `sig:<text>`. */
  thinking?: string;
  /** How many text deltas to split `text` into; default min(10, characters). */
  textChunks?: number;
  toolCalls?: FakeToolCall[];
  /** Overrides of the reported usage; defaults are described at `planTurn`. */
  usage?: FakeUsage;
  /** Default: tool_use when there are tool calls, else end_turn. */
  stopReason?: FakeStopReason;
  /** A status >= 400 answers with the dialect's JSON error body instead of a stream. */
  status?: number;
  /** Sent as the `retry-after` header of an error response. */
  retryAfterSeconds?: number;
  /** Send this many stream events, then an in-stream error event, then end the response. */
  errorAfterEvents?: number;
  /** Kind of the in-stream error; default "overloaded". */
  errorKind?: FakeStreamErrorKind;
  /** Send this many stream events, then destroy the socket. */
  dropAfterEvents?: number;
  /** Send this many stream events, then send nothing more but keep the connection open. */
  hangAfterEvents?: number;
  /** Pause between stream events (and before the first one). */
  delayMs?: number;
}

export interface ResolvedUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export interface FakeRequestRecord {
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: any;
  /** The full usage the fake scripted for this response (an interrupted stream reports less); absent for error responses. */
  usage?: ResolvedUsage;
}

export interface FakeModelServer {
  /** What the SDK takes as `baseURL`. */
  url: string;
  requests: FakeRequestRecord[];
  /** Paths of side requests (model lists and lookups), in order. */
  sideRequests: string[];
  enqueue(...turns: FakeTurn[]): void;
  setFallback(fn: (body: any) => FakeTurn): void;
  /** Responses the client abandoned before the fake finished sending them. */
  readonly abortedRequests: number;
  close(): Promise<void>;
}

/** A turn resolved into the exact pieces that go on the wire. */
export interface TurnPlan {
  textChunks: string[];
  tools: Array<{ id: string; name: string; json: string; fragments: string[] }>;
  usage: ResolvedUsage;
  stopReason: FakeStopReason;
}

/** Fragment sizes cycle through this pattern, so JSON splits mid-key, mid-string and mid-escape. */
const FRAGMENT_SIZES = [1, 4, 2, 7, 3, 5, 9];

/** Splits `text` into `count` near-equal pieces along code points. */
export function splitText(text: string, count: number): string[] {
  const chars = Array.from(text);
  if (chars.length === 0) return [];
  const n = Math.max(1, Math.min(count, chars.length));
  const pieces: string[] = [];
  for (let i = 0; i < n; i++) {
    pieces.push(chars.slice(Math.floor((i * chars.length) / n), Math.floor(((i + 1) * chars.length) / n)).join(""));
  }
  return pieces;
}

/** Splits a JSON text into small fragments at deterministic but arbitrary places. */
export function splitJson(json: string): string[] {
  const fragments: string[] = [];
  let at = 0;
  for (let i = 0; at < json.length; i++) {
    const size = FRAGMENT_SIZES[i % FRAGMENT_SIZES.length];
    fragments.push(json.slice(at, at + size));
    at += size;
  }
  return fragments;
}

/**
 * Resolves a turn. Default usage is deterministic so tests can assert exact totals:
 * input = 10 + floor(textChars / 4) (textChars as the dialect counts the request's message text),
 * output = number of content deltas sent (text deltas + tool-input fragments), cache = 0.
 */
export function planTurn(turn: FakeTurn, textChars: number, nextId: () => string, maxTokens?: number): TurnPlan {
  const textChunks = turn.text ? splitText(turn.text, turn.textChunks ?? 10) : [];
  const tools = (turn.toolCalls ?? []).map((call) => {
    const json = call.rawInput ?? JSON.stringify(call.input ?? {});
    return { id: call.id ?? nextId(), name: call.name, json, fragments: splitJson(json) };
  });
  const deltas = textChunks.length + tools.reduce((sum, t) => sum + t.fragments.length, 0);
  return {
    textChunks,
    tools,
    usage: {
      inputTokens: turn.usage?.inputTokens ?? 10 + Math.floor(textChars / 4),
      // Like the real APIs, never more output than the request's max_tokens allowed.
      outputTokens: Math.min(turn.usage?.outputTokens ?? deltas, maxTokens ?? Number.POSITIVE_INFINITY),
      cacheReadTokens: turn.usage?.cacheReadTokens ?? 0,
      cacheWriteTokens: turn.usage?.cacheWriteTokens ?? 0,
    },
    stopReason: turn.stopReason ?? (tools.length > 0 ? "tool_use" : "end_turn"),
  };
}

/** What a dialect answers for one turn. */
export type DialectResponse =
  | { kind: "error"; status: number; headers: Record<string, string>; body: unknown }
  | { kind: "json"; body: unknown; usage: ResolvedUsage }
  | { kind: "stream"; frames: string[]; errorFrame: string; usage: ResolvedUsage };

/** A wire format: which paths it serves and how it renders a turn. */
export interface Dialect {
  /** Default turn when the queue is empty and no fallback was set. */
  defaultTurn: FakeTurn;
  /** Prefix appended to the origin to form the SDK's baseURL (e.g. "" or "/v1"). */
  basePath: string;
  /** Answers paths the fake does not serve (404 in the dialect's format); undefined when served. */
  notFound(method: string, path: string): DialectResponse | undefined;
  respond(turn: FakeTurn, body: any, headers: Record<string, string>): DialectResponse;
  /** Answers side endpoints (model lists) that are not model calls: not recorded in `requests`, consume no turn. */
  side?(method: string, path: string): { status: number; body: unknown } | undefined;
}

/** Serves a dialect on 127.0.0.1 (port 0) with the queue / fallback / recording behaviour. */
export async function startScriptedServer(dialect: Dialect): Promise<FakeModelServer> {
  const queue: FakeTurn[] = [];
  let fallback: (body: any) => FakeTurn = () => dialect.defaultTurn;
  const requests: FakeRequestRecord[] = [];
  const sideRequests: string[] = [];
  let aborted = 0;
  let closing = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const path = (req.url ?? "/").split("?")[0];
    const side = dialect.side?.(req.method ?? "GET", path);
    if (side) {
      sideRequests.push(path);
      res.writeHead(side.status, { "content-type": "application/json" });
      res.end(JSON.stringify(side.body));
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
    }
    const record: FakeRequestRecord = { path, headers, body };
    requests.push(record);

    const missing = dialect.notFound(req.method ?? "GET", path);
    const turn = missing ? undefined : (queue.shift() ?? fallback(body));
    const response = missing ?? dialect.respond(turn as FakeTurn, body, headers);

    if (response.kind === "error") {
      res.writeHead(response.status, { "content-type": "application/json", ...response.headers });
      res.end(JSON.stringify(response.body));
      return;
    }
    record.usage = response.usage;
    if (response.kind === "json") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(response.body));
      return;
    }
    await writeStream(res, response, turn as FakeTurn, () => {
      if (!closing) aborted++;
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: String(error) } }));
    });
  });
  // A large backlog: benchmarks open thousands of streams within a second.
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${dialect.basePath}`,
    requests,
    sideRequests,
    enqueue: (...turns) => {
      queue.push(...turns);
    },
    setFallback: (fn) => {
      fallback = fn;
    },
    get abortedRequests() {
      return aborted;
    },
    close: async () => {
      closing = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Writes the frames honouring delay / error / drop / hang, and reports a client that left early. */
async function writeStream(
  res: ServerResponse,
  response: Extract<DialectResponse, { kind: "stream" }>,
  turn: FakeTurn,
  onAbort: () => void,
): Promise<void> {
  let finished = false;
  let gone = false;
  const closed = new Promise<void>((resolve) => {
    res.once("close", () => {
      gone = true;
      if (!finished) onAbort();
      resolve();
    });
  });
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  res.flushHeaders();

  const { frames } = response;
  // The earliest scripted interruption wins; without one the whole stream is sent.
  const endings = (
    [
      ["error", turn.errorAfterEvents],
      ["drop", turn.dropAfterEvents],
      ["hang", turn.hangAfterEvents],
    ] as const
  ).filter((entry): entry is readonly ["error" | "drop" | "hang", number] => entry[1] !== undefined);
  endings.sort((a, b) => a[1] - b[1]);
  const ending = endings[0];
  const stopAt = Math.min(frames.length, ending ? ending[1] : frames.length);
  const delay = turn.delayMs ?? 0;
  for (let i = 0; i < stopAt; i++) {
    if (delay > 0) await sleep(delay);
    if (gone) return;
    if (i === stopAt - 1 && ending?.[0] === "drop") {
      // Let the last frame reach the client before the socket goes, or the drop eats it.
      await Promise.race([new Promise((resolve) => res.write(frames[i], resolve)), closed]);
    } else if (!res.write(frames[i])) {
      await Promise.race([new Promise((resolve) => res.once("drain", resolve)), closed]);
    }
  }
  if (gone) return;
  if (ending?.[0] === "error") {
    finished = true;
    res.end(response.errorFrame);
    return;
  }
  if (ending?.[0] === "drop") {
    finished = true;
    res.socket?.destroy();
    return;
  }
  if (ending?.[0] === "hang") {
    await closed;
    return;
  }
  finished = true;
  res.end();
}
