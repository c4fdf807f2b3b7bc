// Pure logic behind the console views: what an engine event makes stale, run filters, step
// timelines, metric and chart formatting, commit links. No Tauri here, so Vitest covers it.
import type { DayCount, EngineEvent, Forge, RunSummary, StepInfo } from "./bindings";

/** The things views show that an event can make stale. */
export type Topic = "dashboard" | "runs" | "releases" | "deliveries" | "projects" | "metrics" | "promotions" | "environments";

/** What to reload after `e`: views reload only what changed, never on a timer. */
export function staleAfter(e: EngineEvent): Set<Topic> {
  switch (e.type) {
    // Environments: runs fill the stages' waiting lists, releases their live ones, the health
    // watch their dots; a step moving on changes none of them.
    case "run_changed":
      return new Set(["dashboard", "runs", "metrics", "environments"]);
    case "step_changed":
      return new Set(["dashboard", "runs"]);
    case "release_changed":
      return new Set(["dashboard", "releases", "promotions", "environments"]);
    case "delivery_recorded":
      return new Set(["deliveries"]);
    case "live_health_changed":
      return new Set(["dashboard", "metrics", "environments"]);
    case "projects_changed":
      return new Set(["projects", "dashboard", "metrics", "promotions", "environments"]);
    default:
      return new Set();
  }
}

/** Bumps the counter of every stale topic; views watch their counter. */
export function bump(versions: Record<Topic, number>, e: EngineEvent): Record<Topic, number> {
  const stale = staleAfter(e);
  if (stale.size === 0) return versions;
  const next = { ...versions };
  for (const t of stale) next[t]++;
  return next;
}

/** Every topic stale at once: the window attached again and may have missed anything. */
export function bumpAll(versions: Record<Topic, number>): Record<Topic, number> {
  return Object.fromEntries(Object.entries(versions).map(([k, v]) => [k, v + 1])) as Record<Topic, number>;
}

export const noVersions = (): Record<Topic, number> => ({ dashboard: 0, runs: 0, releases: 0, deliveries: 0, projects: 0, metrics: 0, promotions: 0, environments: 0 });

export interface RunFilter {
  project: string;
  stage: string;
  status: string;
  trigger: string;
}

export const anyRun = (): RunFilter => ({ project: "", stage: "", status: "", trigger: "" });

/** Empty fields match everything. */
export function filterRuns(runs: RunSummary[], f: RunFilter): RunSummary[] {
  return runs.filter(
    (r) =>
      (!f.project || r.project_id === f.project) &&
      (!f.stage || r.stage === f.stage) &&
      (!f.status || r.status === f.status) &&
      (!f.trigger || r.trigger === f.trigger),
  );
}

/** The distinct values of a field, sorted, for a filter's options. */
export function distinct(runs: RunSummary[], key: "stage" | "status" | "trigger" | "project_id"): string[] {
  return [...new Set(runs.map((r) => r[key]))].sort();
}

/** "850 ms", "12.4 s", "3 min 05 s", "2 h 04 min"; "—" for nothing. */
export function duration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

export function percent(rate: number | null | undefined): string {
  return rate == null ? "—" : `${Math.round(rate * 100)} %`;
}

export interface Segment {
  step: StepInfo;
  /** Offset and width within the run, in percent of its span. */
  left: number;
  width: number;
  ms: number | null;
}

/** Places each started step on the run's time axis; a running step extends to `now`. */
export function timeline(steps: StepInfo[], now: number): Segment[] {
  const started = steps.filter((s) => s.started_at != null);
  if (started.length === 0) return [];
  const t0 = Math.min(...started.map((s) => s.started_at!));
  const end = (s: StepInfo) => s.finished_at ?? (s.status === "running" ? now : s.started_at!);
  const span = Math.max(1, Math.max(...started.map(end)) - t0);
  return started.map((s) => {
    const ms = end(s) - s.started_at!;
    return { step: s, left: ((s.started_at! - t0) / span) * 100, width: Math.max(0.5, (ms / span) * 100), ms: s.finished_at == null && s.status !== "running" ? null : ms };
  });
}

/** The commit's page on the forge; null for plain git servers and unparsable URLs. */
export function commitUrl(forge: Forge, repoUrl: string, sha: string | null | undefined): string | null {
  if (!sha || forge === "git") return null;
  let base = repoUrl.trim().replace(/\.git$/, "").replace(/\/$/, "");
  const scp = /^[\w.-]+@([^:]+):(.+)$/.exec(base);
  if (scp) base = `https://${scp[1]}/${scp[2]}`;
  if (!/^https?:\/\//.test(base)) return null;
  switch (forge) {
    case "gitlab":
      return `${base}/-/commit/${sha}`;
    case "bitbucket":
      return `${base}/commits/${sha}`;
    default:
      return `${base}/commit/${sha}`;
  }
}

export interface Bar {
  x: number;
  width: number;
  okY: number;
  okHeight: number;
  badY: number;
  badHeight: number;
  day: number;
  total: number;
}

/** Stacked bars (succeeded below, failed on top) of deploys per day in a `w` × `h` box. */
export function bars(days: DayCount[], w: number, h: number): Bar[] {
  const max = Math.max(1, ...days.map((d) => d.succeeded + d.failed));
  const slot = w / Math.max(1, days.length);
  const width = Math.max(1, slot - 2);
  return days.map((d, i) => {
    const okHeight = (d.succeeded / max) * h;
    const badHeight = (d.failed / max) * h;
    return { x: i * slot + 1, width, okY: h - okHeight, okHeight, badY: h - okHeight - badHeight, badHeight, day: d.day, total: d.succeeded + d.failed };
  });
}

/** Deploys per week over the window, for "deploy frequency". */
export function perWeek(days: DayCount[]): string {
  const total = days.reduce((n, d) => n + d.succeeded + d.failed, 0);
  if (days.length === 0) return "—";
  const v = (total / days.length) * 7;
  return v >= 10 ? `${Math.round(v)} / week` : `${v.toFixed(1)} / week`;
}
