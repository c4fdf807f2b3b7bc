// Pure helpers that turn engine status into what the status view shows.
import type { DockerStatus, EngineEvent, EngineStatus } from "./bindings";

export type Tone = "ok" | "bad" | "warn";

export interface Line {
  label: string;
  value: string;
  tone: Tone;
}

export function dockerLine(d: DockerStatus): Line {
  if (d.reachable) {
    const latency = d.latency_ms == null ? "" : `, ${Math.round(d.latency_ms)} ms`;
    return { label: "Docker", value: `reachable at ${d.endpoint} (engine ${d.version ?? "?"}${latency})`, tone: "ok" };
  }
  return { label: "Docker", value: d.error ?? `unreachable at ${d.endpoint}`, tone: "bad" };
}

export function listenerLine(s: EngineStatus): Line {
  if (s.listener) return { label: "Listener", value: s.listener, tone: "ok" };
  return { label: "Listener", value: s.listener_error ?? "not listening", tone: "bad" };
}

export function webhookUrl(s: EngineStatus, projectId = "<project-id>"): string | null {
  return s.listener ? `${s.listener}/hooks/${projectId}` : null;
}

/** Folds an engine event into the last status seen, so the view updates without a reload. */
export function applyEvent(s: EngineStatus | null, e: EngineEvent): EngineStatus | null {
  if (!s) return s;
  switch (e.type) {
    case "auto_deploy_changed":
      return { ...s, auto_deploy_paused: e.paused };
    case "shutting_down":
      return { ...s, listener: null, listener_error: "the engine is shutting down" };
    default:
      return s;
  }
}
