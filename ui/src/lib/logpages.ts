// A long run log in pages: the run view draws one row per line but holds (and fetches) only the
// pages in sight, so opening a million-line log costs a few pages, not a million JSON objects.

/** What the log view draws from: rows it can ask for, a page at a time. */
export interface LogSource {
  /** Rows the log spans. */
  count: number;
  /** Bumped when lines arrive, so the rows in sight are drawn again. */
  version: number;
  line: (row: number) => { seq: number; stream: string; line: string } | undefined;
  /** The rows [first, last) are in sight: fetch what is missing. */
  need: (first: number, last: number) => void;
  /** Rows whose line contains `query`, ascending, and whether more matched than came back. */
  search: (query: string) => Promise<{ rows: number[]; more: boolean }>;
}

/** Lines per page fetched from the engine. */
export const PAGE = 500;

/** The pages (0-based) that cover rows [first, last). */
export function pagesFor(first: number, last: number, page = PAGE): number[] {
  if (last <= first) return [];
  const out: number[] = [];
  for (let p = Math.floor(first / page); p <= Math.floor((last - 1) / page); p++) out.push(p);
  return out;
}

/** The engine's `after` and `limit` for page `p`: its lines are seqs p·PAGE+1 … (p+1)·PAGE. */
export function pageQuery(p: number, page = PAGE): { after: number; limit: number } {
  return { after: p * page, limit: page };
}

/** Puts lines into their pages by seq (row = seq − 1); returns the highest seq seen. */
export function place<T extends { seq: number }>(pages: Map<number, (T | undefined)[]>, lines: T[], page = PAGE): number {
  let high = 0;
  for (const l of lines) {
    const row = l.seq - 1;
    const p = Math.floor(row / page);
    let slot = pages.get(p);
    if (!slot) {
      slot = new Array<T | undefined>(page);
      pages.set(p, slot);
    }
    slot[row % page] = l;
    if (l.seq > high) high = l.seq;
  }
  return high;
}

/** The line on row `i`, if its page is here. */
export function rowOf<T>(pages: Map<number, (T | undefined)[]>, i: number, page = PAGE): T | undefined {
  return pages.get(Math.floor(i / page))?.[i % page];
}

/** The first match after row `from`, wrapping around; -1 when there is none. `rows` ascend. */
export function nextMatch(rows: number[], from: number): number {
  if (!rows.length) return -1;
  return rows.find((r) => r > from) ?? rows[0];
}
