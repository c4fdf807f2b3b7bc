import { describe, expect, it } from "vitest";
import type { RunStatus, RunSummary, StepInfo, StepStatus, Trigger } from "./bindings";
import { anyRun, bars, bump, bumpAll, commitUrl, distinct, duration, filterRuns, noVersions, percent, perWeek, staleAfter, timeline } from "./console";

const run = (id: number, stage: string, status: RunStatus, trigger: Trigger, project = "web"): RunSummary => ({
  id, project_id: project, stage, status, trigger, commit_sha: null, ref_name: null, reason: null, delivery_id: null, queued_at: 0,
});

const step = (id: number, status: StepStatus, started: number | null, finished: number | null): StepInfo => ({
  id, position: id, name: `s${id}`, kind: "run", status, exit_code: null, message: null, started_at: started, finished_at: finished,
});

describe("events", () => {
  it("a finished run makes the dashboard, runs and metrics stale, not the inbox", () => {
    expect([...staleAfter({ type: "run_changed", run_id: 3 })].sort()).toEqual(["dashboard", "environments", "metrics", "runs"]);
    expect(staleAfter({ type: "delivery_recorded", id: 1, project_id: null, outcome: "ignored" })).toEqual(new Set(["deliveries"]));
    expect(staleAfter({ type: "release_changed", project_id: "web", stage: "dev" }).has("releases")).toBe(true);
    expect(staleAfter({ type: "live_health_changed", project_id: "web", stage: "dev", state: "down" }).has("dashboard")).toBe(true);
    expect(staleAfter({ type: "shutting_down", quit: true }).size).toBe(0);
    // A step moving on shows in the run view and the dashboard; the metrics wait for the end.
    expect(staleAfter({ type: "step_changed", run_id: 3 })).toEqual(new Set(["dashboard", "runs"]));
  });
  it("the environments card is stale after runs, releases, projects and health, not after a step", () => {
    expect(staleAfter({ type: "live_health_changed", project_id: "web", stage: "dev", state: "down" }).has("environments")).toBe(true);
    expect(staleAfter({ type: "release_changed", project_id: "web", stage: "dev" }).has("environments")).toBe(true);
    expect(staleAfter({ type: "run_changed", run_id: 3 }).has("environments")).toBe(true);
    expect(staleAfter({ type: "projects_changed" }).has("environments")).toBe(true);
    expect(staleAfter({ type: "step_changed", run_id: 3 }).has("environments")).toBe(false);
    expect(staleAfter({ type: "delivery_recorded", id: 1, project_id: "web", outcome: "queued" }).has("environments")).toBe(false);
  });
  it("bump counts per topic and keeps the object when nothing is stale", () => {
    const v0 = noVersions();
    const v1 = bump(v0, { type: "release_changed", project_id: "web", stage: "dev" });
    expect(v1.releases).toBe(1);
    expect(v1.deliveries).toBe(0);
    expect(v0.releases).toBe(0);
    expect(bump(v1, { type: "auto_deploy_changed", paused: true })).toBe(v1);
  });
});

describe("run filters", () => {
  const runs = [run(1, "dev", "succeeded", "webhook"), run(2, "prod", "failed", "promote"), run(3, "dev", "failed", "manual", "api")];
  it("empty fields match all; set fields must all match", () => {
    expect(filterRuns(runs, anyRun()).length).toBe(3);
    expect(filterRuns(runs, { ...anyRun(), status: "failed" }).map((r) => r.id)).toEqual([2, 3]);
    expect(filterRuns(runs, { ...anyRun(), status: "failed", stage: "dev" }).map((r) => r.id)).toEqual([3]);
    expect(filterRuns(runs, { ...anyRun(), trigger: "promote", project: "api" })).toEqual([]);
  });
  it("options are distinct and sorted", () => {
    expect(distinct(runs, "trigger")).toEqual(["manual", "promote", "webhook"]);
  });
});

describe("formatting", () => {
  it("durations", () => {
    expect(duration(null)).toBe("—");
    expect(duration(850)).toBe("850 ms");
    expect(duration(12_400)).toBe("12.4 s");
    expect(duration(185_000)).toBe("3 min 05 s");
    expect(duration(2 * 3600_000 + 4 * 60_000)).toBe("2 h 04 min");
  });
  it("percent", () => {
    expect(percent(null)).toBe("—");
    expect(percent(0.666)).toBe("67 %");
  });
  it("commit links per forge", () => {
    const sha = "abc123";
    expect(commitUrl("github", "https://github.com/team/web.git", sha)).toBe("https://github.com/team/web/commit/abc123");
    expect(commitUrl("gitlab", "https://gitlab.com/team/web", sha)).toBe("https://gitlab.com/team/web/-/commit/abc123");
    expect(commitUrl("bitbucket", "git@bitbucket.org:team/web.git", sha)).toBe("https://bitbucket.org/team/web/commits/abc123");
    expect(commitUrl("gitea", "https://git.example.com/team/web/", sha)).toBe("https://git.example.com/team/web/commit/abc123");
    expect(commitUrl("git", "https://example.com/web.git", sha)).toBeNull();
    expect(commitUrl("github", "https://github.com/team/web", null)).toBeNull();
    expect(commitUrl("github", "/srv/git/web", sha)).toBeNull();
  });
});

describe("timeline", () => {
  it("places steps on the run's span; a running step reaches now; pending steps are left out", () => {
    const segs = timeline([step(1, "succeeded", 1000, 3000), step(2, "running", 3000, null), step(3, "pending", null, null)], 5000);
    expect(segs.map((s) => s.step.id)).toEqual([1, 2]);
    expect(segs[0]).toMatchObject({ left: 0, width: 50, ms: 2000 });
    expect(segs[1]).toMatchObject({ left: 50, width: 50, ms: 2000 });
    expect(timeline([], 0)).toEqual([]);
  });
});

describe("charts", () => {
  const days = [
    { day: 0, succeeded: 2, failed: 0 },
    { day: 1, succeeded: 1, failed: 1 },
    { day: 2, succeeded: 0, failed: 0 },
    { day: 3, succeeded: 0, failed: 4 },
  ];
  it("bars stack failures on successes and scale to the busiest day", () => {
    const b = bars(days, 400, 100);
    expect(b.length).toBe(4);
    expect(b[0]).toMatchObject({ okHeight: 50, badHeight: 0, okY: 50 });
    expect(b[1]).toMatchObject({ okHeight: 25, badHeight: 25, okY: 75, badY: 50 });
    expect(b[3]).toMatchObject({ okHeight: 0, badHeight: 100, badY: 0 });
    expect(b[1].x).toBeCloseTo(101);
    expect(bars([{ day: 0, succeeded: 0, failed: 0 }], 10, 10)[0].okHeight).toBe(0);
  });
  it("deploy frequency per week", () => {
    expect(perWeek(days)).toBe("14 / week");
    expect(perWeek([{ day: 0, succeeded: 1, failed: 0 }, ...Array.from({ length: 29 }, (_, i) => ({ day: i + 1, succeeded: 0, failed: 0 }))])).toBe("0.2 / week");
    expect(perWeek([])).toBe("—");
  });
});

describe("attaching again", () => {
  it("makes every topic stale", () => {
    const v = bumpAll(noVersions());
    expect(Object.values(v).every((n) => n === 1)).toBe(true);
    expect(Object.keys(v)).toEqual(Object.keys(noVersions()));
  });
});
