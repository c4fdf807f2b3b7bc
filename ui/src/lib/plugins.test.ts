import { describe, expect, it } from "vitest";
import type { PluginRecord, TemplateInfo } from "./bindings";
import { cell, chart, metricsOf, metricValue, originsOf, series, tableOf, templateSteps } from "./plugins";

const rec = (run_id: number, created_at: number, metrics: Record<string, number>, data: unknown = null): PluginRecord => ({
  plugin: "junit", project_id: "web", run_id, stage: "dev", commit_sha: null, data, metrics, created_at,
});

describe("plugin data layout", () => {
  it("an array of objects is a table whose columns are every key in first-seen order", () => {
    const v = tableOf([{ name: "a", passed: true }, { name: "b", ms: 12 }]);
    expect(v).toEqual({ kind: "table", columns: ["name", "passed", "ms"], rows: [["a", "true", ""], ["b", "", "12"]] });
  });

  it("a row missing a key gets an empty cell in that column, the others stay in place", () => {
    const v = tableOf([{ a: 1, b: 2, c: 3 }, { c: 9, a: 7 }]);
    expect(v.kind === "table" && v.rows[1]).toEqual(["7", "", "9"]);
  });

  it("an object is key/values in the order written", () => {
    expect(tableOf({ coverage: 81.5, branch: "main", files: ["a", "b"] })).toEqual({
      kind: "pairs",
      rows: [["coverage", "81.5"], ["branch", "main"], ["files", '["a","b"]']],
    });
  });

  it("anything else is pretty JSON: scalars, null, mixed arrays and empty containers", () => {
    expect(tableOf("ok")).toEqual({ kind: "raw", text: '"ok"' });
    expect(tableOf(null)).toEqual({ kind: "raw", text: "null" });
    expect(tableOf(undefined)).toEqual({ kind: "raw", text: "null" });
    expect(tableOf([1, { a: 1 }])).toEqual({ kind: "raw", text: '[\n  1,\n  {\n    "a": 1\n  }\n]' });
    expect(tableOf([[1, 2]]).kind).toBe("raw");
    expect(tableOf([]).kind).toBe("raw");
    expect(tableOf({}).kind).toBe("raw");
  });

  it("cells show text as written, nested values as compact JSON and null as nothing", () => {
    expect(cell("a b")).toBe("a b");
    expect(cell(0)).toBe("0");
    expect(cell(false)).toBe("false");
    expect(cell(null)).toBe("");
    expect(cell({ x: [1] })).toBe('{"x":[1]}');
  });
});

describe("plugin metrics", () => {
  it("series runs oldest to newest whatever order the records came in", () => {
    const newestFirst = [rec(9, 300, { passed: 5 }), rec(7, 200, { passed: 4 }), rec(4, 100, { passed: 3 })];
    expect(series(newestFirst, "passed")).toEqual([
      { run_id: 4, label: "#4", value: 3 },
      { run_id: 7, label: "#7", value: 4 },
      { run_id: 9, label: "#9", value: 5 },
    ]);
  });

  it("series skips records without the metric instead of drawing them as zero", () => {
    const rs = [rec(3, 30, { passed: 2 }), rec(2, 20, { failed: 1 }), rec(1, 10, { passed: 0 })];
    expect(series(rs, "passed").map((p) => p.run_id)).toEqual([1, 3]);
    expect(series(rs, "nope")).toEqual([]);
  });

  it("series orders records of the same instant by run", () => {
    expect(series([rec(6, 50, { m: 1 }), rec(5, 50, { m: 2 })], "m").map((p) => p.run_id)).toEqual([5, 6]);
  });

  it("chips show integers as they are and other numbers to three decimals", () => {
    expect(metricValue(3)).toBe("3");
    expect(metricValue(0.833333)).toBe("0.833");
    expect(metricValue(-2.5)).toBe("-2.5");
  });

  it("a record's metrics keep the plugin's order and drop holes", () => {
    const r = rec(1, 1, {});
    r.metrics = { passed: 3, skipped: undefined, failed: 0 };
    expect(metricsOf(r)).toEqual([["passed", 3], ["failed", 0]]);
  });
});

describe("plugin chart", () => {
  const pts = (values: number[]) => values.map((value, i) => ({ run_id: i + 1, label: `#${i + 1}`, value }));

  it("spreads dots evenly and puts the max at the top and the min at the bottom", () => {
    const c = chart(pts([10, 20, 15]), 100, 50, 5);
    expect(c.dots.map((d) => d.x)).toEqual([5, 50, 95]);
    expect(c.dots.map((d) => d.y)).toEqual([45, 5, 25]);
    expect([c.min, c.max]).toEqual([10, 20]);
    expect(c.path).toBe("M5.0,45.0 L50.0,5.0 L95.0,25.0");
  });

  it("a flat series is drawn across the middle and a single dot in the centre without a line", () => {
    expect(chart(pts([4, 4]), 100, 50).dots.map((d) => d.y)).toEqual([25, 25]);
    const one = chart(pts([7]), 100, 50);
    expect(one.dots.map((d) => [d.x, d.y])).toEqual([[50, 25]]);
    expect(one.path).toBe("");
  });

  it("labels at most maxLabels runs, always including the newest", () => {
    const c = chart(pts(Array.from({ length: 20 }, (_, i) => i)), 200, 50, 6, 8);
    expect(c.labelled.length).toBeLessThanOrEqual(8);
    expect(c.labelled[c.labelled.length - 1]).toBe(19);
    expect(chart(pts([1, 2, 3]), 100, 50).labelled).toEqual([0, 1, 2]);
    expect(chart([], 100, 50).dots).toEqual([]);
  });
});

describe("pipeline templates", () => {
  const t = (steps: string[], builds: boolean): TemplateInfo => ({ name: "svc", version: 1, description: null, steps, builds, updated_at: 0 });

  it("template steps read in order, with the build last when it builds", () => {
    expect(templateSteps(t(["lint", "test"], true))).toBe("lint → test, then build");
    expect(templateSteps(t(["lint", "test"], false))).toBe("lint → test");
    expect(templateSteps(t([], true))).toBe("build only");
  });

  it("step origins are looked up by name and absent without a template", () => {
    const o = originsOf({ template: "svc", version: 2, steps: [{ name: "test", origin: "replaced" }, { name: "e2e", origin: "added" }], removed: [], yaml: "" });
    expect(o.get("test")).toBe("replaced");
    expect(o.get("e2e")).toBe("added");
    expect(o.get("build")).toBeUndefined();
    expect(originsOf(null).size).toBe(0);
  });
});
