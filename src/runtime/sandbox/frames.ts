/**
 * Framing of the messages between the gateway and a program it runs in a sandbox (the workspace
 * helper): each message is an 8-byte prefix (length of the JSON header, length of the binary
 * payload, both unsigned 32-bit big-endian), the header as UTF-8 JSON, then the payload.
 * Shared by both ends, so it is bundled into the sandboxed program (programs.ts).
 */

export interface Frame {
  header: Record<string, unknown>;
  payload: Buffer;
}

const PREFIX_BYTES = 8;

/** The buffers of one frame, ready to be written in order. */
export function encodeFrame(header: Record<string, unknown>, payload?: Uint8Array): Buffer[] {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  prefix.writeUInt32BE(json.length, 0);
  prefix.writeUInt32BE(payload?.byteLength ?? 0, 4);
  return payload && payload.byteLength > 0
    ? [prefix, json, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)]
    : [prefix, json];
}

/**
 * Cuts a byte stream into frames. Chunks are kept as a list and copied once, into the frame they
 * belong to, so a large payload arriving in many chunks costs its size, not its size squared.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private pending: { header: number; payload: number } | null = null;

  constructor(private readonly maxFrameBytes: number) {}

  /** Adds a chunk; returns the frames it completed. Throws on a frame over the size limit. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (!this.pending) {
        if (this.buffered < PREFIX_BYTES) break;
        const prefix = this.take(PREFIX_BYTES);
        this.pending = { header: prefix.readUInt32BE(0), payload: prefix.readUInt32BE(4) };
        if (this.pending.header + this.pending.payload > this.maxFrameBytes) {
          throw new Error(`a frame of ${this.pending.header + this.pending.payload} bytes is over the ${this.maxFrameBytes}-byte limit`);
        }
      }
      if (this.buffered < this.pending.header + this.pending.payload) break;
      const header = JSON.parse(this.take(this.pending.header).toString("utf8")) as Record<string, unknown>;
      frames.push({ header, payload: this.take(this.pending.payload) });
      this.pending = null;
    }
    return frames;
  }

  private take(bytes: number): Buffer {
    this.buffered -= bytes;
    if (bytes === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    if (first.length > bytes) {
      this.chunks[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    if (first.length === bytes) return this.chunks.shift() as Buffer;
    const out = Buffer.allocUnsafe(bytes);
    let offset = 0;
    while (offset < bytes) {
      const chunk = this.chunks[0];
      const part = Math.min(chunk.length, bytes - offset);
      chunk.copy(out, offset, 0, part);
      offset += part;
      if (part === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    return out;
  }
}
