import { describe, expect, it } from "vitest";
import { edgePath, healthTone, layout, liveLabel, secondsLeft, waitLine, waitState } from "./environments";
import type { Environment } from "./bindings";

function env(stage: string, more: Partial<Environment> = {}): Environment {
  return {
    stage,
    kind: "non-productive",
    group: null,
    requires: [],
    promote_from: null,
    soak_secs: 0,
    rules: [],
    live: null,
    health: null,
    waiting: [],
    ...more,
  };
}

const names = (cols: Environment[][]) => cols.map((c) => c.map((e) => e.stage));

describe("environment graph", () => {
  it("puts a stage one column after the deepest stage it requires", () => {
    const l = layout([env("prod", { requires: ["rel", "dev"], soak_secs: 60 }), env("dev"), env("rel", { requires: ["dev"] })]);
    expect(l.depth).toEqual({ dev: 0, rel: 1, prod: 2 });
    expect(names(l.columns)).toEqual([["dev"], ["rel"], ["prod"]]);
    expect(l.edges).toEqual([
      { from: "rel", to: "prod", kind: "requires", label: "soak 60 s" },
      { from: "dev", to: "prod", kind: "requires", label: "soak 60 s" },
      { from: "dev", to: "rel", kind: "requires", label: null },
    ]);
  });

  it("counts promote_from as an edge, dashed unless the stage also requires it", () => {
    const only = layout([env("dev"), env("prod", { promote_from: "dev" })]);
    expect(only.depth).toEqual({ dev: 0, prod: 1 });
    expect(only.edges).toEqual([{ from: "dev", to: "prod", kind: "promote", label: null }]);

    const both = layout([env("dev"), env("prod", { promote_from: "dev", requires: ["dev"], soak_secs: 30 })]);
    expect(both.edges).toEqual([{ from: "dev", to: "prod", kind: "requires", label: "soak 30 s" }]);
  });

  it("lays a chain of three out in three columns, stages without predecessors first", () => {
    const l = layout([env("dev"), env("rel", { promote_from: "dev" }), env("prod", { requires: ["rel"] }), env("docs")]);
    expect(names(l.columns)).toEqual([["dev", "docs"], ["rel"], ["prod"]]);
    expect(l.edges.map((e) => `${e.from}->${e.to} ${e.kind}`)).toEqual(["dev->rel promote", "rel->prod requires"]);
  });

  it("ignores predecessors it does not know and survives a cycle", () => {
    expect(layout([env("prod", { requires: ["gone"] })])).toEqual({ columns: [[env("prod", { requires: ["gone"] })]], edges: [], depth: { prod: 0 } });
    const l = layout([env("a", { requires: ["b"] }), env("b", { requires: ["a"] })]);
    expect(l.depth).toEqual({ a: 1, b: 0 });
  });

  it("draws an arrow from the right edge of one node to the left edge of the next", () => {
    const p = edgePath({ left: 0, top: 0, width: 100, height: 40 }, { left: 200, top: 60, width: 100, height: 40 });
    expect(p.d).toBe("M 100 20 C 150 20, 150 80, 200 80");
    expect(p.mid).toEqual({ x: 150, y: 50 });
  });
});

describe("what waits for a stage", () => {
  const now = 1_000_000_000;

  it("says which run a queued or running commit is in", () => {
    expect(waitState({ state: "queued" }, 5, now)).toBe("queued run #5");
    expect(waitState({ state: "running" }, 7, now)).toBe("running run #7");
    expect(waitState({ state: "queued" }, null, now)).toBe("queued");
  });

  it("counts a soak down in whole seconds, rounded up", () => {
    expect(waitState({ state: "soaking", ready_at: now + 11_200 }, null, now)).toBe("soaking, may go in 12 s");
    expect(waitState({ state: "soaking", ready_at: now + 12_000 }, null, now)).toBe("soaking, may go in 12 s");
    expect(waitState({ state: "soaking", ready_at: now + 1 }, null, now)).toBe("soaking, may go in 1 s");
    expect(waitState({ state: "soaking", ready_at: now - 3_000 }, null, now)).toBe("soaking over, may go now");
    expect(secondsLeft(now - 3_000, now)).toBe(0);
  });

  it("gives the engine's reason for a refusal", () => {
    expect(waitState({ state: "refused", reason: "tag v1.0.0 was never live on rel" }, null, now)).toBe("refused: tag v1.0.0 was never live on rel");
  });

  it("says a ready promotion waits for a click", () => {
    expect(waitState({ state: "ready" }, null, now)).toBe("ready (waits for a click)");
  });

  it("names what waits and where it comes from", () => {
    const w = { what: "v1.0.0", commit_sha: "366701fde727cb7a9e7f21eb88264f59f6f9b89c", from_stage: "rel", run_id: null };
    expect(waitLine({ ...w, state: { state: "soaking", ready_at: now + 12_000 } }, now)).toBe("v1.0.0 from rel: soaking, may go in 12 s");
    expect(waitLine({ ...w, from_stage: null, run_id: 5, state: { state: "queued" } }, now)).toBe("v1.0.0: queued run #5");
  });
});

describe("environment node", () => {
  it("shows the live release with its short commit, or that nothing is live", () => {
    expect(liveLabel({ number: 4, commit_sha: "366701fde727cb7a9e7f21eb88264f59f6f9b89c", since: 0 })).toBe("#4 366701fde7");
    expect(liveLabel({ number: 4, commit_sha: null, since: 0 })).toBe("#4");
    expect(liveLabel(null)).toBe("nothing live");
  });

  it("colours the health dot by the health watch's state", () => {
    expect(healthTone({ state: "healthy", release: 4, since: 0, what: null })).toBe("ok");
    expect(healthTone({ state: "degraded", release: 4, since: 0, what: "502" })).toBe("warn");
    expect(healthTone({ state: "down", release: 4, since: 0, what: "refused" })).toBe("bad");
    expect(healthTone(null)).toBe("none");
  });
});
