import { describe, expect, it } from "vitest";
import { nextMatch, pageQuery, pagesFor, place, rowOf } from "./logpages";

describe("a long log in pages", () => {
  it("fetches only the pages the rows in sight fall in", () => {
    expect(pagesFor(0, 40, 500)).toEqual([0]);
    expect(pagesFor(480, 520, 500)).toEqual([0, 1]);
    expect(pagesFor(999_960, 1_000_000, 500)).toEqual([1999]);
    expect(pagesFor(10, 10, 500)).toEqual([]);
  });

  it("asks the engine for a page by seq", () => {
    expect(pageQuery(0, 500)).toEqual({ after: 0, limit: 500 });
    expect(pageQuery(3, 500)).toEqual({ after: 1500, limit: 500 });
  });

  it("puts each line on the row of its seq, whether it came in a page or live, once", () => {
    const pages = new Map<number, ({ seq: number } | undefined)[]>();
    expect(place(pages, [{ seq: 1 }, { seq: 2 }], 4)).toBe(2);
    expect(place(pages, [{ seq: 2 }, { seq: 5 }], 4)).toBe(5);
    expect(rowOf(pages, 0, 4)?.seq).toBe(1);
    expect(rowOf(pages, 1, 4)?.seq).toBe(2);
    expect(rowOf(pages, 2, 4)).toBeUndefined();
    expect(rowOf(pages, 4, 4)?.seq).toBe(5);
    expect([...pages.keys()]).toEqual([0, 1]);
  });

  it("search moves to the next match and wraps around", () => {
    expect(nextMatch([3, 10, 70], -1)).toBe(3);
    expect(nextMatch([3, 10, 70], 3)).toBe(10);
    expect(nextMatch([3, 10, 70], 70)).toBe(3);
    expect(nextMatch([], 0)).toBe(-1);
  });
});
