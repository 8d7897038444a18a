import type { LogLevel } from "../config";

/** A structured JSON-lines logger. Fields whose names look secret are redacted before writing. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const SECRET_FIELD = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|^key$|keyHash|session/i;
/** Anything shaped like one of our keys or a provider key, wherever it appears in a string. */
const SECRET_VALUE = /\b(sk_live_[A-Za-z0-9]+|sk-ant-[A-Za-z0-9_-]+|sk-[A-Za-z0-9_-]{16,}|whsec_[A-Za-z0-9]+|rk_live_[A-Za-z0-9]+)/g;

/** Removes secrets from a value about to be logged. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return value.replace(SECRET_VALUE, "[redacted]");
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message), stack: redact(value.stack) };
  }
  if (!value || typeof value !== "object" || depth > 5) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // Counts are not secrets: a run's `tokens` figure is logged as it is.
    out[k] = SECRET_FIELD.test(k) && v !== null && v !== undefined && typeof v !== "boolean" && typeof v !== "number" ? "[redacted]" : redact(v, depth + 1);
  }
  return out;
}

/** Creates a logger writing one JSON object per line to `write` (stdout by default). */
export function createLogger(level: LogLevel, options: { write?: (line: string) => void; base?: Record<string, unknown> } = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const threshold = levels[level];
  const base = options.base ?? {};
  const log = (lvl: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (levels[lvl] < threshold) return;
    const entry = redact({ time: new Date().toISOString(), level: lvl, msg: message, ...base, ...fields });
    write(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    child: (fields) => createLogger(level, { write, base: { ...base, ...fields } }),
  };
}
