/** A parsed Server-Sent Event; comments (`: ping`) are kept as `{ comment }`. */
export type SseItem = { event: string; data: any } | { comment: string };

/** Parses an SSE body into events (data as JSON) and comment lines. */
export function parseSse(text: string): SseItem[] {
  const items: SseItem[] = [];
  for (const block of text.split(/\n\n/)) {
    if (!block.trim()) continue;
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) items.push({ comment: line.slice(1).trim() });
      else if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length) items.push({ event, data: JSON.parse(data.join("\n")) });
  }
  return items;
}

/** Only the events (no comments) of a parsed stream. */
export function eventsOf(items: SseItem[]): Array<{ event: string; data: any }> {
  return items.filter((i): i is { event: string; data: any } => "event" in i);
}

/** POSTs a chat over real HTTP and reads the whole stream. */
export async function chatOverHttp(
  baseUrl: string,
  agentId: string,
  body: Record<string, unknown>,
  auth: { key?: string; cookie?: string },
): Promise<{ status: number; headers: Headers; items: SseItem[]; events: Array<{ event: string; data: any }>; text: string }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth.key) headers.authorization = `Bearer ${auth.key}`;
  if (auth.cookie) headers.cookie = auth.cookie;
  const res = await fetch(`${baseUrl}/v1/agent/${agentId}/chat`, { method: "POST", headers, body: JSON.stringify(body) });
  const text = await res.text();
  const items = res.headers.get("content-type")?.startsWith("text/event-stream") ? parseSse(text) : [];
  return { status: res.status, headers: res.headers, items, events: eventsOf(items), text };
}

/** One SSE frame as it came over the wire (`raw`, without the blank line), with its parts. */
export interface SseFrame {
  raw: string;
  id?: string;
  event: string;
  data: any;
}

/**
 * Reads an SSE response frame by frame as it arrives (comments skipped). Stops after `max`
 * frames when given (the caller then aborts the request).
 */
export async function* sseFrames(res: Response, max = Number.POSITIVE_INFINITY): AsyncGenerator<SseFrame> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let count = 0;
  try {
    for (;;) {
      let cut = buffer.indexOf("\n\n");
      while (cut !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        cut = buffer.indexOf("\n\n");
        const lines = block.split("\n").filter((l) => !l.startsWith(":"));
        if (lines.length === 0) continue;
        let event = "message";
        let id: string | undefined;
        const data: string[] = [];
        for (const line of lines) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("id:")) id = line.slice(3).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        yield { raw: lines.join("\n"), id, event, data: data.length ? JSON.parse(data.join("\n")) : null };
        if (++count >= max) return;
      }
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** All frames of an SSE response until it ends. */
export async function readFrames(res: Response): Promise<SseFrame[]> {
  const frames: SseFrame[] = [];
  for await (const frame of sseFrames(res)) frames.push(frame);
  return frames;
}
