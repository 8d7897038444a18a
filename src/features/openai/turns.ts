/**
 * What an OpenAI-compatible request asks of a run: the caller's system text (instructions), the
 * turns before the message (prelude) and the message itself (the last user message). Chat
 * Completions' `messages` and the Responses API's `input` items both become one. Only text is
 * taken; client-side tools are refused (the agent runs its own tools on the server), while the
 * server-side tool calls a Response returned (`openpaw:tool_call` items) may be sent back as input.
 */
import { errors } from "../../http/errors";
import { wrapToolOutput } from "../../runtime/loop";
import type { AssistantBlock, ChatMessage, ToolResultBlock } from "../../runtime/models/types";

export interface TurnInput {
  instructions: string;
  prelude: ChatMessage[];
  message: string;
}

/** Longest message, as on the native chat. */
export const MAX_MESSAGE_CHARS = 100_000;

const CLIENT_TOOLS =
  "Client-side tools are not supported: the agent runs its own tools on the server. Send text messages (or continue with previous_response_id).";

/** Builds ChatMessages in order, grouping an assistant step's text and tool calls and then their results. */
class TurnBuilder {
  readonly messages: ChatMessage[] = [];
  private blocks: AssistantBlock[] = [];
  private results: ToolResultBlock[] = [];

  user(text: string): void {
    this.flush();
    this.messages.push({ role: "user", content: text });
  }

  assistantText(text: string): void {
    if (this.results.length) this.flush();
    this.blocks.push({ type: "text", text });
  }

  toolCall(block: Extract<AssistantBlock, { type: "tool_call" }>, result: ToolResultBlock): void {
    this.blocks.push(block);
    this.results.push(result);
  }

  flush(): void {
    if (this.blocks.length) this.messages.push({ role: "assistant", content: this.blocks });
    if (this.results.length) this.messages.push({ role: "tool", results: this.results });
    this.blocks = [];
    this.results = [];
  }
}

/** Splits the built turns into prelude and message: the last one must be the user's. */
function finish(builder: TurnBuilder, instructions: string[], param: string): TurnInput {
  builder.flush();
  const last = builder.messages.at(-1);
  if (last?.role !== "user") throw errors.invalid("The last message must be a user message: it is the message the agent answers.", param);
  if (!last.content.trim()) throw errors.invalid("The last user message must not be empty.", param);
  if (last.content.length > MAX_MESSAGE_CHARS)
    throw errors.invalid(`The last user message is longer than ${MAX_MESSAGE_CHARS} characters.`, param);
  return { instructions: instructions.join("\n\n"), prelude: builder.messages.slice(0, -1), message: last.content };
}

type Part = { type: string; text?: string; [key: string]: unknown };

/** The text of a message's content (a string or text parts); other parts are refused naming where. */
function textOf(content: string | Part[] | null | undefined, param: string, textTypes: readonly string[]): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  const texts: string[] = [];
  for (const [j, part] of content.entries()) {
    // A refusal is the model's, not content to send back.
    if (part.type === "refusal") continue;
    if (!textTypes.includes(part.type) || typeof part.text !== "string") {
      throw errors.invalid(
        `Only text content is supported (${textTypes.join(", ")}), got "${String(part.type).slice(0, 40)}".`,
        `${param}.${j}.type`,
      );
    }
    texts.push(part.text);
  }
  return texts.join("\n");
}

export interface ChatCompletionMessage {
  role: "system" | "developer" | "user" | "assistant" | "tool" | "function";
  content?: string | Part[] | null;
  tool_calls?: unknown[] | null;
  function_call?: unknown;
  [key: string]: unknown;
}

/** Chat Completions' `messages`: system/developer text → instructions; the rest → turns. */
export function fromChatMessages(messages: ChatCompletionMessage[]): TurnInput {
  const builder = new TurnBuilder();
  const instructions: string[] = [];
  for (const [i, m] of messages.entries()) {
    const at = `messages.${i}`;
    if (m.role === "tool" || m.role === "function") throw errors.invalid(CLIENT_TOOLS, `${at}.role`);
    if ((m.tool_calls && m.tool_calls.length > 0) || m.function_call) throw errors.invalid(CLIENT_TOOLS, `${at}.tool_calls`);
    const text = textOf(m.content, `${at}.content`, ["text"]);
    if (m.role === "system" || m.role === "developer") {
      if (text.trim()) instructions.push(text);
    } else if (m.role === "user") builder.user(text);
    else if (text) builder.assistantText(text);
  }
  return finish(builder, instructions, `messages.${messages.length - 1}`);
}

export type ResponseInputItem = { type?: string; role?: string; content?: string | Part[] | null; [key: string]: unknown };

/**
 * The Responses API's `input`: a string is the user message; items are messages (any role, text
 * parts) and `openpaw:tool_call` items returned by an earlier response, rebuilt as the tool call
 * and its result. Tool outputs reach the model wrapped as the loop wraps them.
 */
export function fromResponseInput(input: string | ResponseInputItem[], toolOutputChars: number): TurnInput {
  const builder = new TurnBuilder();
  if (typeof input === "string") {
    builder.user(input);
    return finish(builder, [], "input");
  }
  const instructions: string[] = [];
  for (const [i, item] of input.entries()) {
    const at = `input.${i}`;
    const type = item.type ?? "message";
    if (type === "message") {
      const role = item.role;
      const text = textOf(item.content, `${at}.content`, role === "assistant" ? ["output_text", "text"] : ["input_text", "text"]);
      if (role === "system" || role === "developer") {
        if (text.trim()) instructions.push(text);
      } else if (role === "user") builder.user(text);
      else if (role === "assistant") {
        if (text) builder.assistantText(text);
      } else throw errors.invalid('role must be "user", "assistant", "system" or "developer".', `${at}.role`);
    } else if (type === "openpaw:tool_call") {
      builder.toolCall(...toolCallOf(item, at, toolOutputChars));
    } else if (
      type === "function_call" ||
      type === "function_call_output" ||
      type === "custom_tool_call" ||
      type === "custom_tool_call_output"
    ) {
      throw errors.invalid(CLIENT_TOOLS, `${at}.type`);
    } else {
      throw errors.invalid(
        `Input items of type "${type.slice(0, 60)}" are not supported: send messages (text), or continue with previous_response_id.`,
        `${at}.type`,
      );
    }
  }
  return finish(builder, instructions, input.length ? `input.${input.length - 1}` : "input");
}

/** An `openpaw:tool_call` item back as the call and its result (an unfinished call counts as failed). */
function toolCallOf(item: ResponseInputItem, at: string, toolOutputChars: number): Parameters<TurnBuilder["toolCall"]> {
  const field = (name: string) => {
    const value = item[name];
    if (typeof value !== "string" || value === "") throw errors.invalid("Must be a non-empty string.", `${at}.${name}`);
    return value;
  };
  const id = field("call_id");
  const name = field("name");
  let input: unknown;
  try {
    input = JSON.parse(field("arguments"));
  } catch {
    throw errors.invalid("Must be the JSON text of the call's arguments.", `${at}.arguments`);
  }
  const output = typeof item.output === "string" ? item.output : null;
  const isError = item.is_error === true || output === null;
  const content = wrapToolOutput(name, output ?? "The tool call did not finish.", toolOutputChars);
  return [
    { type: "tool_call", id, name, input },
    { toolCallId: id, name, content, isError },
  ];
}
