import { type ApiApp, callApi } from "../api";
import { type Dashboard, apiErrorPage, done, failed, field, orgPage } from "../page";
import { Layout, fmt, plural } from "../ui";
import { LIVE_STATUSES, LiveRun } from "./runs";

interface Message {
  id: string;
  runId: string;
  role: "user" | "assistant" | "tool";
  content: any;
}

/** A run of the conversation, as GET …/conversations/:id lists it. */
interface Run {
  id: string;
  status: string;
  iterations: number;
  toolCalls: number;
  tokens: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

const pretty = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

/**
 * What a tool returned, without the `<tool_output>` wrapper the model sees it in (runtime/loop's
 * wrapToolOutput, undone; a test keeps the two in step). People see the tool's own text.
 */
export function unwrapToolOutput(content: string): string {
  const match = /^<tool_output tool="[^"]*">\n([\s\S]*)\n<\/tool_output>$/.exec(content);
  return match ? match[1].replace(/<\\\/tool_output/gi, "</tool_output") : content;
}

/** The stop reason a run's status stands for. */
const stopReasonOf = (status: string) => (status === "completed" ? "end_turn" : status);

/** The figures of a run, worded as app.js words them for a live one. */
export function runStats(r: { iterations: number; toolCalls: number; tokens: number; inputTokens: number; outputTokens: number; cost: number; stopReason: string }): string {
  return `${plural(r.iterations, "iteration")} · ${plural(r.toolCalls, "tool call")} · ${fmt.int(r.tokens)} tokens (${fmt.int(r.inputTokens)} in, ${fmt.int(r.outputTokens)} out) · ${fmt.usd(r.cost)} · ${r.stopReason}`;
}

/** Why a turn has no complete answer, when it has none. */
const ENDINGS: Record<string, string> = {
  error: "This turn failed; the text above is what arrived before the error.",
  interrupted: "This turn was cut off (the gateway stopped); the text above is what arrived before.",
  cancelled: "This turn was cancelled; the text above is what arrived before.",
  max_iterations: "This turn stopped at the agent's iteration limit.",
};

function RunEnd(props: { orgId: string; run: Run | undefined }) {
  const { run } = props;
  if (!run || LIVE_STATUSES.has(run.status)) return null;
  const ending = ENDINGS[run.status];
  return (
    <>
      {ending ? <p class={`run-ending flash ${run.status === "max_iterations" ? "flash-ok" : "flash-error"}`}>{ending}</p> : null}
      <p class="run-stats small muted">
        {runStats({ ...run, stopReason: stopReasonOf(run.status) })} · <a href={`/orgs/${props.orgId}/runs/${run.id}`}>run</a>
      </p>
    </>
  );
}

/** One tool call as a collapsible card; app.js renders live ones with the same markup. */
function ToolCard(props: { name: string; input: unknown; result?: { content: string; isError: boolean } }) {
  const r = props.result;
  return (
    <details class={`tool${r?.isError ? " tool-error" : ""}`}>
      <summary>
        <span class="tool-name">{props.name}</span> <span class="muted small">{r ? (r.isError ? "failed" : "done") : "no result"}</span>
      </summary>
      <p class="small muted">Input</p>
      <pre>{pretty(props.input)}</pre>
      <p class="small muted">Result</p>
      <pre>{r ? r.content : ""}</pre>
    </details>
  );
}

/**
 * A stored conversation rendered like the live stream: user turns, assistant text, tool cards,
 * and after each turn its figures (and how it ended, when it did not end with an answer). A run
 * that has not ended yet (the page was reloaded while it streamed, or it runs in the background)
 * is not drawn from its stored steps but followed live from its event log by app.js, so the
 * reader sees it exactly as a stream, to the end.
 */
function Transcript(props: { orgId: string; messages: Message[]; runs: Run[] }) {
  const results = new Map<string, { content: string; isError: boolean }>();
  for (const m of props.messages) {
    if (m.role === "tool") for (const r of m.content as any[]) results.set(r.toolCallId, { content: unwrapToolOutput(r.content), isError: r.isError });
  }
  const runs = new Map(props.runs.map((r) => [r.id, r]));
  const lastOfRun = new Map(props.messages.map((m, i) => [m.runId, i]));
  const isLive = (runId: string) => LIVE_STATUSES.has(runs.get(runId)?.status ?? "");
  // Live runs with no stored message at all (not one expected, but then they still show).
  const unseenLive = props.runs.filter((r) => LIVE_STATUSES.has(r.status) && !lastOfRun.has(r.id));
  return (
    <>
      {props.messages.map((m, i) => {
        if (isLive(m.runId)) {
          if (m.role !== "user") return null;
          return (
            <>
              <div class="msg user">{String(m.content)}</div>
              <LiveRun orgId={props.orgId} runId={m.runId} />
            </>
          );
        }
        const end = lastOfRun.get(m.runId) === i ? <RunEnd orgId={props.orgId} run={runs.get(m.runId)} /> : null;
        if (m.role === "user") {
          return (
            <>
              <div class="msg user">{String(m.content)}</div>
              {end ? <div class="msg assistant">{end}</div> : null}
            </>
          );
        }
        if (m.role === "tool") return end ? <div class="msg assistant">{end}</div> : null;
        return (
          <div class="msg assistant">
            {/* Reasoning blocks are kept for the model, not shown as the answer. */}
            {(m.content as any[]).map((block) =>
              block.type === "text" ? (
                <div class="text">{block.text}</div>
              ) : block.type === "tool_call" ? (
                <ToolCard name={block.name} input={block.input} result={results.get(block.id)} />
              ) : null,
            )}
            {end}
          </div>
        );
      })}
      {unseenLive.map((r) => (
        <LiveRun orgId={props.orgId} runId={r.id} />
      ))}
    </>
  );
}

/** The playground: chat with an agent (streamed by app.js), continue or browse conversations. */
export function registerPlaygroundPages(app: Dashboard, api: ApiApp) {
  app.get(
    "/orgs/:orgId/playground",
    orgPage(api, async (c, view) => {
      const base = `/orgs/${view.org.id}`;
      const agents = await callApi(api, c, "GET", `/v1${base}/agents?limit=200`);
      if (!agents.ok) return apiErrorPage(c, view, agents);
      const list = agents.body.data as Array<{ id: string; name: string; model: string }>;
      const agentId = c.req.query("agent") ?? list[0]?.id;
      const conversationId = c.req.query("conversation") ?? "";
      const agent = list.find((a) => a.id === agentId);
      if (agentId && !agent) return apiErrorPage(c, view, { ok: false, status: 404, body: null, headers: new Headers() });
      let conversations: Array<{ id: string; title: string | null; updatedAt: string }> = [];
      let messages: Message[] = [];
      let runs: Run[] = [];
      if (agent) {
        const [convs, conv] = await Promise.all([
          callApi(api, c, "GET", `/v1${base}/agents/${agent.id}/conversations?limit=50`),
          conversationId ? callApi(api, c, "GET", `/v1${base}/agents/${agent.id}/conversations/${encodeURIComponent(conversationId)}`) : null,
        ]);
        conversations = convs.ok ? convs.body.data : [];
        if (conv && !conv.ok) return apiErrorPage(c, view, conv);
        messages = conv?.body.messages ?? [];
        runs = conv?.body.runs ?? [];
      }
      return c.html(
        <Layout view={view} title="Playground" active="Playground">
          {list.length === 0 ? (
            <p class="empty">
              No agents yet. <a href={`${base}/agents/new`}>Create one</a> to chat with it.
            </p>
          ) : (
            <>
              <form method="get" action={`${base}/playground`} class="row">
                <label>
                  Agent
                  <select name="agent">
                    {list.map((a) => (
                      <option value={a.id} selected={a.id === agent?.id}>
                        {`${a.name} (${a.model})`}
                      </option>
                    ))}
                  </select>
                </label>
                <button type="submit">Open</button>
              </form>
              <div class="playground">
                <nav class="conversations" aria-label="Conversations" data-base={`${base}/playground?agent=${agent?.id}`}>
                  <p>
                    <a href={`${base}/playground?agent=${agent?.id}`} aria-current={conversationId ? undefined : "page"}>
                      + New conversation
                    </a>
                  </p>
                  <ul>
                    {conversations.map((cv) => (
                      <li>
                        <a
                          href={`${base}/playground?agent=${agent?.id}&conversation=${cv.id}`}
                          aria-current={cv.id === conversationId ? "page" : undefined}
                        >
                          {cv.title ?? "Untitled"}
                          <span class="muted small"> {fmt.date(cv.updatedAt)}</span>
                        </a>
                      </li>
                    ))}
                  </ul>
                </nav>
                <section class="chat" aria-label="Conversation">
                  <div id="transcript" class="transcript">
                    <Transcript orgId={view.org.id} messages={messages} runs={runs} />
                  </div>
                  <form
                    method="post"
                    action={`${base}/playground`}
                    class="stack"
                    data-chat=""
                    data-agent={agent?.id ?? ""}
                    data-conversation={conversationId}
                    data-org={view.org.id}
                    hx-boost="false"
                  >
                    <input type="hidden" name="agent" value={agent?.id ?? ""} />
                    <input type="hidden" name="conversation" value={conversationId} />
                    <label>
                      Message <span class="muted small">(Ctrl+Enter sends)</span>
                      <textarea name="message" rows={3} required></textarea>
                    </label>
                    <div class="row">
                      <button type="submit" class="primary" disabled={!view.can("chat")}>
                        Send
                      </button>
                      <button type="button" class="secondary" data-stop="" hidden>
                        Stop
                      </button>
                      <p class="status muted" role="status" aria-live="polite"></p>
                    </div>
                  </form>
                </section>
              </div>
            </>
          )}
        </Layout>,
      );
    }),
  );

  // Without JavaScript the form posts here: one non-streamed run, then the conversation page.
  app.post(
    "/orgs/:orgId/playground",
    orgPage(api, async (c, view) => {
      const form = await c.req.parseBody();
      const agentId = field(form, "agent");
      const conversationId = field(form, "conversation");
      const page = `/orgs/${view.org.id}/playground?agent=${encodeURIComponent(agentId)}`;
      const body: Record<string, unknown> = { message: field(form, "message"), stream: false };
      if (conversationId) body.conversationId = conversationId;
      const result = await callApi(api, c, "POST", `/v1/agent/${encodeURIComponent(agentId)}/chat`, { body });
      if (!result.ok) return failed(c, conversationId ? `${page}&conversation=${conversationId}` : page, result);
      return done(c, `${page}&conversation=${result.body.conversationId}`, `Done: ${fmt.int(result.body.tokens)} tokens, ${fmt.usd(result.body.cost)}.`);
    }),
  );
}
