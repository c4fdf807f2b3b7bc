import { describe, expect, it } from "vitest";
import { ago, outcomeTone, parsePatterns, refLabel, shortSha, stagePlacement, stageRules } from "./format";

describe("format", () => {
  it("shortens commits and shows a dash for none", () => {
    expect(shortSha("366701fde727cb7a9e7f21eb88264f59f6f9b89c")).toBe("366701fde7");
    expect(shortSha(null)).toBe("—");
  });
  it("says how long ago", () => {
    const now = 1_000_000_000;
    expect(ago(now - 12_000, now)).toBe("12 s ago");
    expect(ago(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(ago(now - 3 * 3_600_000, now)).toBe("3 h ago");
    expect(ago(now - 2 * 86_400_000, now)).toBe("2 d ago");
    expect(ago(now + 5_000, now)).toBe("0 s ago");
  });
  it("colours outcomes", () => {
    expect(outcomeTone("queued")).toBe("ok");
    expect(outcomeTone("rejected")).toBe("bad");
    expect(outcomeTone("duplicate")).toBe("warn");
    expect(outcomeTone("ignored")).toBe("warn");
  });
  it("labels refs", () => {
    expect(refLabel("refs/heads/main")).toBe("main");
    expect(refLabel("refs/tags/v1.2.0")).toBe("tag v1.2.0");
    expect(refLabel("refs/pull/7/head")).toBe("refs/pull/7/head");
    expect(refLabel(null)).toBe("—");
  });
  it("parses pattern lists", () => {
    expect(parsePatterns(" main, release/*  v* ")).toEqual(["main", "release/*", "v*"]);
    expect(parsePatterns("  ")).toEqual([]);
  });
  it("describes stage rules", () => {
    const s = { name: "rel", branch_patterns: [], tag_patterns: ["v*"], pr_events: false, auto_deploy: false, productive: true, promote_from: null, confirm: false, strategy: "blue-green" as const, rollout: { subdomain: null, drain_secs: 30, verify_secs: 60, batch_size: 1, canary_percent: 10, canary_secs: 60, keep_releases: 5, watch_interval_secs: 10, on_unhealthy: "alert" as const, watch_secs: 600 } };
    expect(stageRules(s)).toBe("tags v* (manual deploy)");
    expect(stageRules({ ...s, tag_patterns: [], auto_deploy: true })).toBe("manual only");
  });
  it("says where a stage's release runs", () => {
    const s = { name: "prod", branch_patterns: [], tag_patterns: [], pr_events: false, auto_deploy: false, productive: true, promote_from: null, confirm: false, strategy: "blue-green" as const, rollout: { subdomain: null, drain_secs: 30, verify_secs: 60, batch_size: 1, canary_percent: 10, canary_secs: 60, keep_releases: 5, watch_interval_secs: 10, on_unhealthy: "alert" as const, watch_secs: 600 } };
    expect(stagePlacement(s)).toBe("");
    expect(stagePlacement({ ...s, hosts: ["web-1"] })).toBe("on web-1");
    expect(stagePlacement({ ...s, hosts: ["web-1", "web-2", "web-3"] })).toBe("on web-1, web-2, web-3 · one at a time");
    expect(stagePlacement({ ...s, hosts: ["web-1", "web-2"], parallel: 5 })).toBe("on web-1, web-2 · 2 at a time");
    expect(stagePlacement({ ...s, target: "swarm" as const })).toBe("Swarm service on the project's host");
    expect(stagePlacement({ ...s, target: "swarm" as const, hosts: ["mgr"] })).toBe("Swarm service on mgr");
  });
});
