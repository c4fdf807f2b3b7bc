// Formatting shared by the views: times, commits, outcomes, form input.
import type { Outcome, Stage } from "./bindings";
import type { Tone } from "./status";

export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 10) : "—";
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago" relative to `now` (both Unix ms). */
export function ago(ms: number, now: number = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function outcomeTone(o: Outcome): Tone {
  switch (o) {
    case "queued":
      return "ok";
    case "rejected":
      return "bad";
    default:
      return "warn";
  }
}

/** `refs/heads/main` → `main`, `refs/tags/v1` → `tag v1`. */
export function refLabel(ref: string | null | undefined): string {
  if (!ref) return "—";
  if (ref.startsWith("refs/heads/")) return ref.slice("refs/heads/".length);
  if (ref.startsWith("refs/tags/")) return `tag ${ref.slice("refs/tags/".length)}`;
  return ref;
}

/** "main, release/*" → ["main", "release/*"]; blanks dropped. */
export function parsePatterns(text: string): string[] {
  return text
    .split(/[,\s]+/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** Where a stage's release runs, when it is not just the project's host: its hosts and how
 * many switch at once, or the Swarm manager. Empty for the project's own host. */
export function stagePlacement(s: Stage): string {
  const hosts = s.hosts ?? [];
  if (s.target === "swarm") return `Swarm service on ${hosts[0] ?? "the project's host"}`;
  if (hosts.length === 0) return "";
  if (hosts.length === 1) return `on ${hosts[0]}`;
  const parallel = s.parallel ?? 1;
  return `on ${hosts.join(", ")} · ${parallel === 1 ? "one at a time" : `${Math.min(parallel, hosts.length)} at a time`}`;
}

export function stageRules(s: Stage): string {
  const parts: string[] = [];
  if (s.branch_patterns.length) parts.push(`branches ${s.branch_patterns.join(", ")}`);
  if (s.tag_patterns.length) parts.push(`tags ${s.tag_patterns.join(", ")}`);
  if (s.pr_events) parts.push("pull requests");
  if (!parts.length) parts.push("manual only");
  return parts.join(" · ") + (s.auto_deploy ? "" : " (manual deploy)");
}
