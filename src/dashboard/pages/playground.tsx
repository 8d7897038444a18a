import { type ApiApp, callApi } from "../api";
import { type Dashboard, apiErrorPage, done, failed, field, orgPage } from "../page";
import { Layout, fmt } from "../ui";

interface Message {
  id: string;
  role: "user" | "assistant" | "tool";
  content: any;
}

const pretty = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

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

/** A stored conversation rendered like the live stream: user turns, assistant text, tool cards. */
function Transcript(props: { messages: Message[] }) {
  const results = new Map<string, { content: string; isError: boolean }>();
  for (const m of props.messages) if (m.role === "tool") for (const r of m.content as any[]) results.set(r.toolCallId, r);
  return (
    <>
      {props.messages.map((m) => {
        if (m.role === "user") return <div class="msg user">{String(m.content)}</div>;
        if (m.role === "tool") return null;
        return (
          <div class="msg assistant">
            {(m.content as any[]).map((block) =>
              block.type === "text" ? (
                <div class="text">{block.text}</div>
              ) : (
                <ToolCard name={block.name} input={block.input} result={results.get(block.id)} />
              ),
            )}
          </div>
        );
      })}
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
      if (agent) {
        const [convs, conv] = await Promise.all([
          callApi(api, c, "GET", `/v1${base}/agents/${agent.id}/conversations?limit=50`),
          conversationId ? callApi(api, c, "GET", `/v1${base}/agents/${agent.id}/conversations/${encodeURIComponent(conversationId)}`) : null,
        ]);
        conversations = convs.ok ? convs.body.data : [];
        if (conv && !conv.ok) return apiErrorPage(c, view, conv);
        messages = conv?.body.messages ?? [];
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
                <nav class="conversations" aria-label="Conversations">
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
                    <Transcript messages={messages} />
                  </div>
                  <form
                    method="post"
                    action={`${base}/playground`}
                    class="stack"
                    data-chat=""
                    data-agent={agent?.id ?? ""}
                    data-conversation={conversationId}
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
      return done(c, `${page}&conversation=${result.body.conversationId}`, `Done: ${result.body.tokens} tokens, ${fmt.usd(result.body.cost)}.`);
    }),
  );
}
