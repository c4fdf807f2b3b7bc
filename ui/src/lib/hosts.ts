// Small pure helpers for the Hosts view, kept apart so they can be unit-tested.
import type { ContainerGroup, HostKind, HostState } from "./bindings";

export type Tone = "ok" | "bad" | "warn" | "muted";

/** The engine names the form field first ("endpoint: …"); None when the message is not a field's. */
export function fieldError(message: string, fields: string[]): { field: string; message: string } | null {
  const m = /^([a-z_]+): (.*)$/s.exec(message);
  if (!m || !fields.includes(m[1])) return null;
  return { field: m[1], message: m[2] };
}

export function hostTone(state: HostState): Tone {
  return state === "reachable" ? "ok" : state === "unreachable" ? "bad" : "muted";
}

export function containerTone(state: string, health: string | null): Tone {
  if (health === "unhealthy" || state === "dead") return "bad";
  if (state === "running") return health === "starting" ? "warn" : "ok";
  if (state === "restarting" || state === "paused") return "warn";
  return "muted";
}

export function groupTitle(g: ContainerGroup): string {
  if (g.kind === "slipway") return `Slipway project ${g.name}`;
  if (g.kind === "compose") return `Compose project ${g.name}`;
  return "Other containers";
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function endpointHint(kind: HostKind): string {
  switch (kind) {
    case "local":
      return "unix:///var/run/docker.sock";
    case "tcp":
      return "tcp://10.0.0.5:2376";
    case "ssh":
      return "ssh://deploy@box.example.com";
  }
}

/** An image given by digest only is shown by its first 12 hex digits, as `docker ps` does. */
export function shortImage(image: string): string {
  return image.startsWith("sha256:") ? image.slice(7, 19) : image;
}
