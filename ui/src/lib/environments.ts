// The environments card's logic: where each stage sits in the graph, which arrows join them,
// and how what waits for a stage reads. No DOM here, so Vitest covers it.
import type { Environment, LiveHealth, LiveRelease, WaitState, Waiting } from "./bindings";
import { shortSha } from "./format";
import type { Tone } from "./status";

export interface EnvEdge {
  from: string;
  to: string;
  /** `requires` gates the stage (drawn solid); `promote` only feeds it (drawn dashed). */
  kind: "requires" | "promote";
  label: string | null;
}

export interface EnvLayout {
  /** Column i holds the stages of depth i, in the project's stage order. */
  columns: Environment[][];
  edges: EnvEdge[];
  depth: Record<string, number>;
}

/** The stages a commit comes from before it reaches `e`, whether it must or merely may. */
function predecessors(e: Environment): string[] {
  return e.promote_from && !e.requires.includes(e.promote_from) ? [...e.requires, e.promote_from] : e.requires;
}

/** Columns by depth (1 + the deepest predecessor; none: 0) and the arrows between stages. */
export function layout(envs: Environment[]): EnvLayout {
  const byName = new Map(envs.map((e) => [e.stage, e]));
  const depth: Record<string, number> = {};
  const visiting = new Set<string>();

  function depthOf(e: Environment): number {
    if (e.stage in depth) return depth[e.stage];
    // The engine refuses cycles, but a graph drawn from a stale or hand-made answer must not
    // recurse forever: a predecessor already on the path counts for nothing.
    visiting.add(e.stage);
    let d = 0;
    for (const p of predecessors(e)) {
      const pe = byName.get(p);
      if (pe && !visiting.has(p)) d = Math.max(d, depthOf(pe) + 1);
    }
    visiting.delete(e.stage);
    depth[e.stage] = d;
    return d;
  }

  const columns: Environment[][] = [];
  for (const e of envs) {
    const d = depthOf(e);
    while (columns.length <= d) columns.push([]);
    columns[d].push(e);
  }

  const edges: EnvEdge[] = [];
  for (const e of envs) {
    for (const r of e.requires) {
      if (byName.has(r)) edges.push({ from: r, to: e.stage, kind: "requires", label: e.soak_secs > 0 ? `soak ${e.soak_secs} s` : null });
    }
    if (e.promote_from && !e.requires.includes(e.promote_from) && byName.has(e.promote_from)) {
      edges.push({ from: e.promote_from, to: e.stage, kind: "promote", label: null });
    }
  }
  return { columns, edges, depth };
}

/** Whole seconds until `readyAt`, rounded up so "0 s" only shows once it is really over. */
export function secondsLeft(readyAt: number, now: number): number {
  return Math.max(0, Math.ceil((readyAt - now) / 1000));
}

/** What holds a waiting commit, as the engine's CLI words it (plus the run to look at). */
export function waitState(s: WaitState, runId: number | null, now: number): string {
  const run = runId == null ? "" : ` run #${runId}`;
  switch (s.state) {
    case "queued":
      return `queued${run}`;
    case "running":
      return `running${run}`;
    case "soaking": {
      const left = secondsLeft(s.ready_at, now);
      return left > 0 ? `soaking, may go in ${left} s` : "soaking over, may go now";
    }
    case "refused":
      return `refused: ${s.reason}`;
    case "ready":
      return "ready (waits for a click)";
  }
}

/** "v1.0.0 from rel: soaking, may go in 12 s" */
export function waitLine(w: Waiting, now: number): string {
  const from = w.from_stage ? ` from ${w.from_stage}` : "";
  return `${w.what}${from}: ${waitState(w.state, w.run_id, now)}`;
}

/** "#4 366701fde7", or "nothing live". */
export function liveLabel(live: LiveRelease | null): string {
  if (!live) return "nothing live";
  return live.commit_sha ? `#${live.number} ${shortSha(live.commit_sha)}` : `#${live.number}`;
}

/** The health dot's colour; "none" before the health watch's first check. */
export function healthTone(h: LiveHealth | null): Tone | "none" {
  if (!h) return "none";
  switch (h.state) {
    case "healthy":
      return "ok";
    case "degraded":
      return "warn";
    case "down":
      return "bad";
  }
}

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** An arrow from the right edge of `a` to the left edge of `b`, as an S-curve whose midpoint
 * (where a label goes) is halfway between the two. */
export function edgePath(a: Box, b: Box): { d: string; mid: { x: number; y: number } } {
  const x1 = a.left + a.width;
  const y1 = a.top + a.height / 2;
  const x2 = b.left;
  const y2 = b.top + b.height / 2;
  // At least some horizontal pull, so an arrow that runs backwards still reads as a curve.
  const dx = Math.max(24, (x2 - x1) / 2);
  return { d: `M ${x1} ${y1} C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`, mid: { x: (x1 + x2) / 2, y: (y1 + y2) / 2 } };
}
