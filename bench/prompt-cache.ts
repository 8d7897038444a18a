/**
 * What prompt caching saves on a 10-turn conversation with tools (npm run bench:cache).
 *
 * Runs the conversation of test/helpers/prompt-cache-scenario.ts through the gateway against the
 * fake Anthropic API, whose usage follows Anthropic's caching rules (exact-prefix entries written
 * at breakpoints whose prefix reaches the minimum cacheable length, 1,024 tokens for Sonnet; reads
 * looked up at each breakpoint and 20 blocks before it; at most 4 breakpoints; 5-minute entries).
 * The same requests rewritten to the layout before issue 20 are replayed through a fresh
 * simulation. Both are priced per call with the catalogue's prices (5-minute cache writes and hits
 * as listed per model). Token counts are the simulation's (4 characters a token).
 */
import { costOf, createModelCatalogue } from "../src/runtime/models/catalogue";
import { type RecordedCall, SCENARIO_MODEL, asBeforeLayout, replay, runPromptCacheScenario } from "../test/helpers/prompt-cache-scenario";

type Usage = RecordedCall["usage"];

const catalogue = createModelCatalogue({ modelsFile: null, anthropicConfigured: true, openaiConfigured: false });
const sum = (list: Usage[], pick: (u: Usage) => number) => list.reduce((n, u) => n + pick(u), 0);
const fmt = (n: number) => n.toLocaleString("en-US");
const usd = (n: number) => `$${n.toFixed(4)}`;

const run = await runPromptCacheScenario();
try {
  const after = run.calls.map((c) => c.usage);
  const before = replay(
    run.calls.map((c) => asBeforeLayout(c.body)),
    after.map((u) => u.outputTokens),
  );
  const rows: string[] = [];
  for (const [label, list] of [
    ["before (one system breakpoint incl. memory matches, tools breakpoint)", before],
    ["after (stable → volatile, conversation breakpoints)", after],
  ] as const) {
    const costs = ["claude-sonnet-4-20250514", SCENARIO_MODEL, "claude-opus-5-5"].map((id) => {
      const model = catalogue.get(id);
      if (!model) throw new Error(`no model ${id}`);
      return usd(list.reduce((n, u) => n + costOf(model, u), 0));
    });
    rows.push(
      `| ${label} | ${fmt(sum(list, (u) => u.inputTokens))} | ${fmt(sum(list, (u) => u.cacheWriteTokens))} | ${fmt(sum(list, (u) => u.cacheReadTokens))} | ${fmt(sum(list, (u) => u.outputTokens))} | ${costs.join(" | ")} |`,
    );
  }
  console.log(`${run.calls.length} model calls over ${Math.max(...run.calls.map((c) => c.turn))} turns\n`);
  console.log("| layout | input at full price | cache writes | cache reads | output | Sonnet 4 ($3/$15) | Sonnet 5.5 ($2/$10) | Opus 5.5 ($4/$20) |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const row of rows) console.log(row);
  console.log("\nPer call (after): turn, read, written, full price");
  for (const [i, call] of run.calls.entries()) {
    console.log(`${String(i + 1).padStart(2)} t${call.turn} read ${fmt(call.usage.cacheReadTokens)} write ${fmt(call.usage.cacheWriteTokens)} input ${fmt(call.usage.inputTokens)}`);
  }
} finally {
  await run.close();
}
