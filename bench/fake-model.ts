/**
 * The fake Anthropic server in its own process, so the benchmark's load generator, the gateway and
 * the model each have their own event loop. A message containing "[slow]" gets a slow stream (one
 * delta every BENCH_SLOW_DELTA_MS for BENCH_SLOW_SECONDS); "[stream]" an answer streamed like a short
 * real one (20 text deltas, each of the stream's ~26 frames BENCH_STREAM_FRAME_MS apart: ~1 s); anything
 * else a fast one (all frames at once).
 */
import { startFakeAnthropic } from "../test/fakes/anthropic";

const slowDeltaMs = Number(process.env.BENCH_SLOW_DELTA_MS ?? 500);
const slowSeconds = Number(process.env.BENCH_SLOW_SECONDS ?? 30);
const streamFrameMs = Number(process.env.BENCH_STREAM_FRAME_MS ?? 40);
/**
 * The user's own words in the last message: its last text block. The gateway sends the memory it
 * matched (HISTORY entries of earlier runs, which quote their messages) as a text block before
 * them; read along, one "[stream]" run would turn every later run of the agent into a streamed one.
 */
function ownText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const texts = content.filter((b) => b?.type === "text");
  return String(texts.at(-1)?.text ?? "");
}

const fake = await startFakeAnthropic();
fake.setFallback((body) => {
  const last = ownText(body?.messages?.at(-1)?.content);
  if (last.includes("[slow]")) {
    const chunks = Math.max(1, Math.round((slowSeconds * 1000) / slowDeltaMs) - 4);
    return { text: "x".repeat(chunks * 4), textChunks: chunks, delayMs: slowDeltaMs };
  }
  if (last.includes("[stream]")) return { text: "A short answer, streamed as a model streams it.", textChunks: 20, delayMs: streamFrameMs };
  return { text: "Hello from the fake model, quickly.", textChunks: 5 };
});
// The fake keeps every request for tests' assertions; a benchmark would only grow memory with them.
setInterval(() => {
  fake.requests.length = 0;
}, 1_000).unref();
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
process.on("SIGTERM", () => fake.close().then(() => process.exit(0)));
