// OpenPaw dashboard: copy buttons and the streaming playground. Plain JS served as a file (the CSP
// forbids inline scripts). Listeners sit on the document, so pages swapped in by htmx work too.

document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (!button) return;
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(button.getAttribute("data-copy") || "");
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select and copy";
  }
  setTimeout(() => {
    button.textContent = label;
  }, 1500);
});

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target instanceof HTMLTextAreaElement && target.form?.hasAttribute("data-chat")) {
    event.preventDefault();
    target.form.requestSubmit();
  }
});

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const pretty = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));
const usd = (n) => (n > 0 && n < 0.01 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`);
const int = (n) => Math.round(n).toLocaleString("en-US");
const plural = (n, one, many = `${one}s`) => `${int(n)} ${n === 1 ? one : many}`;

/** The figures of a run; the server words stored runs the same way (pages/playground.tsx runStats). */
const runStats = (d) =>
  `${plural(d.iterations, "iteration")} · ${plural(d.toolCalls, "tool call")} · ${int(d.tokens)} tokens (${int(d.inputTokens)} in, ${int(d.outputTokens)} out) · ${usd(d.cost)} · ${d.stopReason}`;

/** Whether the reader is at the newest turn (not scrolled up to read something older). */
const atNewest = (transcript) => transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;

/** Keeps the newest turn in view: always when `force`, else only for a reader who was there before the change. */
function follow(transcript, force, wasAtNewest = true) {
  if (force || wasAtNewest) transcript.scrollTop = transcript.scrollHeight;
}

/** A reopened conversation opens at its newest turn (on load and after htmx swaps a page in). */
function showNewest() {
  const transcript = document.getElementById("transcript");
  if (transcript) follow(transcript, true);
}
document.addEventListener("DOMContentLoaded", showNewest);
document.addEventListener("htmx:load", showNewest);

/** A conversation that just started goes to the top of the list, as the current one. */
function listConversation(id, title) {
  const nav = document.querySelector("nav.conversations");
  const list = nav?.querySelector("ul");
  if (!nav || !list || list.querySelector(`a[data-id="${id}"]`)) return;
  for (const current of nav.querySelectorAll("a[aria-current]")) current.removeAttribute("aria-current");
  const link = el("a", "", title);
  link.href = `${nav.dataset.base}&conversation=${encodeURIComponent(id)}`;
  link.dataset.id = id;
  link.setAttribute("aria-current", "page");
  link.append(el("span", "muted small", " just now"));
  const item = el("li");
  item.append(link);
  list.prepend(item);
}

/** The same markup the server renders for stored tool calls. */
function toolCard(name, input) {
  const card = el("details", "tool");
  const summary = el("summary");
  summary.append(el("span", "tool-name", name), " ", el("span", "muted small state", "running…"));
  const result = el("pre", "result");
  card.append(summary, el("p", "small muted", "Input"), el("pre", "", pretty(input)), el("p", "small muted", "Result"), result);
  return card;
}

/** Parses SSE frames out of a growing buffer; returns the unparsed tail. `id` is the event's seq. */
function parseFrames(buffer, onEvent) {
  let index;
  while ((index = buffer.indexOf("\n\n")) !== -1) {
    const frame = buffer.slice(0, index);
    buffer = buffer.slice(index + 2);
    let event = "message";
    let id = null;
    const data = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      else if (line.startsWith("id:")) id = Number(line.slice(3).trim());
    }
    if (data.length) onEvent(event, JSON.parse(data.join("\n")), id);
  }
  return buffer;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads a run's event stream to its `done`. When the connection drops first, it reconnects to the
 * run's events route after the last event it saw (the log gives exactly the rest, nothing twice).
 * Returns whether `done` arrived.
 */
async function readRun(first, org, runId, onEvent) {
  let res = first;
  let last = 0;
  let ended = false;
  for (let attempt = 0; attempt < 6 && !ended; attempt++) {
    if (!res) {
      if (attempt > 0) await sleep(Math.min(500 * 2 ** attempt, 4000));
      res = await fetch(`/v1/orgs/${encodeURIComponent(org)}/runs/${encodeURIComponent(runId)}/events?after=${last}`, {
        headers: { accept: "text/event-stream" },
        credentials: "same-origin",
      }).catch(() => null);
      if (res && !res.ok) {
        const failure = await res.json().catch(() => null);
        throw new Error(failure?.error?.message || `Following the run failed (${res.status}).`);
      }
    }
    if (!res?.body) {
      res = null;
      continue;
    }
    try {
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer = parseFrames(buffer + value, (name, data, id) => {
          if (id) last = id;
          if (name === "done") ended = true;
          onEvent(name, data);
        });
      }
    } catch {
      // The connection dropped: reconnect after `last`.
    }
    res = null;
    if (!runId) break;
  }
  return ended;
}

/**
 * Draws one run's events into `reply` (text, tool cards, how it ended), as the server draws a
 * stored one. Returns the status line's words for how it ended.
 */
async function renderRun(first, org, runId, reply, transcript) {
  let text = null;
  let failure = null;
  let atLimit = false;
  const cards = new Map();
  const ended = await readRun(first, org, runId, (name, data) => {
    const stick = atNewest(transcript);
    reply.querySelector(".live-note")?.remove();
    if (name === "text") {
      if (!text) {
        text = el("div", "text", "");
        reply.append(text);
      }
      text.textContent += data.text;
    } else if (name === "resumed") {
      // A gateway took the run over: the text of the step it cut is superseded by what follows.
      text?.remove();
      text = null;
    } else if (name === "tool_start") {
      text = null;
      const card = toolCard(data.tool, data.input);
      cards.set(data.id, card);
      reply.append(card);
    } else if (name === "tool_result") {
      const card = cards.get(data.id);
      if (!card) return;
      card.querySelector(".result").textContent = pretty(data.output ?? "");
      card.querySelector(".state").textContent = data.isError ? "failed" : "done";
      if (data.isError) card.classList.add("tool-error");
    } else if (name === "error") {
      failure = data.error?.message || "The run failed.";
      reply.append(el("p", "run-ending flash flash-error", failure));
    } else if (name === "done") {
      const stats = el("p", "run-stats small muted", `${runStats(data)} · `);
      const link = el("a", "", "run");
      link.href = `/orgs/${encodeURIComponent(org)}/runs/${encodeURIComponent(runId)}`;
      stats.append(link);
      reply.append(stats);
      if (data.stopReason === "cancelled") failure ??= "The run was cancelled.";
      atLimit = data.stopReason === "max_iterations";
    }
    follow(transcript, false, stick);
  });
  if (!ended) failure ??= "Lost the connection to the run; reload the page to follow it again.";
  // The status line says how the run really ended.
  return failure ? `Failed: ${failure}` : atLimit ? "Stopped at the agent's iteration limit." : "Response complete.";
}

/** The Stop button cancels the run it is bound to, from wherever it runs. */
function bindStop(form, org, runId) {
  const stop = form?.querySelector("button[data-stop]");
  if (!stop) return () => {};
  stop.hidden = false;
  stop.disabled = false;
  stop.onclick = async () => {
    stop.disabled = true;
    await fetch(`/v1/orgs/${encodeURIComponent(org)}/runs/${encodeURIComponent(runId)}/cancel`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      credentials: "same-origin",
      body: "{}",
    }).catch(() => null);
  };
  return () => {
    stop.hidden = true;
    stop.onclick = null;
  };
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-chat")) return;
  event.preventDefault();
  const transcript = document.getElementById("transcript");
  const status = form.querySelector(".status");
  const button = form.querySelector("button[type=submit]");
  const textarea = form.elements.namedItem("message");
  const message = textarea.value.trim();
  if (!message || !transcript) return;
  const agentId = form.dataset.agent;
  const conversationId = form.dataset.conversation;
  const org = form.dataset.org;

  transcript.append(el("div", "msg user", message));
  const reply = el("div", "msg assistant");
  transcript.append(reply);
  follow(transcript, true);
  textarea.value = "";
  button.disabled = true;
  status.textContent = "Thinking…";
  // A background run that streams: reloading the page or losing the connection does not cancel
  // it (the page follows it again); Stop does.
  const body = { message, background: true, stream: true };
  if (conversationId) body.conversationId = conversationId;
  let unbind = () => {};

  try {
    const res = await fetch(`/v1/agent/${encodeURIComponent(agentId)}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    if (!res.ok || !res.body) {
      const failure = await res.json().catch(() => null);
      throw new Error(failure?.error?.message || `Request failed (${res.status}).`);
    }
    const newConversation = res.headers.get("x-conversation-id");
    if (newConversation && newConversation !== conversationId) {
      listConversation(newConversation, message.replace(/\s+/g, " ").slice(0, 80));
      form.dataset.conversation = newConversation;
      form.elements.namedItem("conversation").value = newConversation;
      const url = new URL(window.location.href);
      url.searchParams.set("conversation", newConversation);
      history.replaceState(history.state, "", url);
    }
    const runId = res.headers.get("x-run-id");
    reply.dataset.run = runId || "";
    unbind = bindStop(form, org, runId);
    status.textContent = "Streaming…";
    status.textContent = await renderRun(res, org, runId, reply, transcript);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    reply.append(el("p", "run-ending flash flash-error", message));
    status.textContent = `Failed: ${message}`;
    follow(transcript, true);
  } finally {
    unbind();
    button.disabled = false;
    textarea.focus();
  }
});

/**
 * Runs the page shows as not ended (reloaded while streaming, a background run, a run's own
 * page) are followed from the start of their event log, live to their end.
 */
function followLiveRuns() {
  const transcript = document.getElementById("transcript");
  for (const node of document.querySelectorAll("[data-live-run]")) {
    if (node.dataset.following) continue;
    node.dataset.following = "1";
    const form = document.querySelector("form[data-chat]");
    const status = form?.querySelector(".status");
    const button = form?.querySelector("button[type=submit]");
    const unbind = bindStop(form, node.dataset.org, node.dataset.liveRun);
    if (button) button.disabled = true;
    if (status) status.textContent = "Following a run that is still going…";
    renderRun(null, node.dataset.org, node.dataset.liveRun, node, transcript || node)
      .catch((error) => {
        const message = error instanceof Error ? error.message : String(error);
        node.append(el("p", "run-ending flash flash-error", message));
        return `Failed: ${message}`;
      })
      .then((line) => {
        unbind();
        if (status) status.textContent = line;
        if (button) button.disabled = false;
      });
  }
}
document.addEventListener("DOMContentLoaded", followLiveRuns);
document.addEventListener("htmx:load", followLiveRuns);
