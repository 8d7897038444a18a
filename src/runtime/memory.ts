/**
 * Agent memory as the engine sees it (DESIGN.md §1): NOTES, curated by the agent and always in
 * context, and HISTORY, a timestamped summary appended after each conversation turn and searched
 * for the terms of the current message. One store instance serves one agent of one org.
 */
export interface MemoryNote {
  id: string;
  content: string;
  createdAt: number;
}

export interface MemoryHistoryEntry {
  id: string;
  conversationId: string | null;
  content: string;
  createdAt: number;
}

export class MemoryFullError extends Error {
  override name = "MemoryFullError";
}

export interface MemoryStore {
  /** All notes, oldest first. */
  notes(): Promise<MemoryNote[]>;
  /** Appends a timestamped note; throws MemoryFullError (with a clear message) past the per-agent cap. */
  appendNote(content: string): Promise<MemoryNote>;
  /** Lines of NOTES and HISTORY matching the query's terms, best first; an empty query returns all notes. */
  search(query: string, limit?: number): Promise<string[]>;
  /** HISTORY entries matching the terms of `text`, best first (for the run's context). */
  matchingHistory(text: string, limit?: number): Promise<MemoryHistoryEntry[]>;
  /** Appends a HISTORY entry after a conversation turn. */
  appendHistory(conversationId: string, content: string): Promise<void>;
}
