// What the views make of plugin publications and pipeline templates: how a plugin's free-form
// data is laid out, a metric's points over runs, and the chart's geometry. No DOM here, so
// Vitest covers it.
import type { ExecutedPipeline, PluginRecord, StepOrigin, TemplateInfo } from "./bindings";

/** How a plugin's `data` is shown: the contract lets it be any JSON. */
export type DataView =
  | { kind: "table"; columns: string[]; rows: string[][] }
  | { kind: "pairs"; rows: [string, string][] }
  | { kind: "raw"; text: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One table cell: text as written, nested values as compact JSON, nothing for null. */
export function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** An array of objects is a table (columns: every key, in the order first seen), an object is
 * key/values; anything else, and empty ones (nothing to lay out), is pretty JSON. */
export function tableOf(data: unknown): DataView {
  if (Array.isArray(data) && data.length > 0 && data.every(isRecord)) {
    const columns: string[] = [];
    const seen = new Set<string>();
    for (const row of data) {
      for (const k of Object.keys(row)) {
        if (!seen.has(k)) {
          seen.add(k);
          columns.push(k);
        }
      }
    }
    // A row without a key has an empty cell there, not a shifted one.
    return { kind: "table", columns, rows: data.map((row) => columns.map((c) => (c in row ? cell(row[c]) : ""))) };
  }
  if (isRecord(data) && Object.keys(data).length > 0) {
    return { kind: "pairs", rows: Object.entries(data).map(([k, v]) => [k, cell(v)]) };
  }
  return { kind: "raw", text: JSON.stringify(data ?? null, null, 2) };
}

/** "3", "0.833": a metric is any number; three decimals are plenty on a chip or a tooltip. */
export function metricValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
}

/** A record's metrics in the order the plugin wrote them, without holes. */
export function metricsOf(r: PluginRecord): [string, number][] {
  return Object.entries(r.metrics).filter((e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1]));
}

export interface Point {
  run_id: number;
  label: string;
  value: number;
}

/** A metric over the runs that published it, oldest first (plugin_data answers newest first);
 * runs whose publication lacks the metric are left out, not drawn as zero. */
export function series(records: PluginRecord[], metric: string): Point[] {
  return records
    .filter((r) => typeof r.metrics[metric] === "number" && Number.isFinite(r.metrics[metric]))
    .sort((a, b) => a.created_at - b.created_at || a.run_id - b.run_id)
    .map((r) => ({ run_id: r.run_id, label: `#${r.run_id}`, value: r.metrics[metric]! }));
}

export interface Chart {
  dots: (Point & { x: number; y: number })[];
  /** The SVG path through the dots, empty with fewer than two. */
  path: string;
  min: number;
  max: number;
  /** Indices of the dots whose run label fits under the axis. */
  labelled: number[];
}

/** Dots spread evenly across `w` (runs are events, not a time scale) and scaled between the
 * series' own min and max within `h`, `pad` kept free at the edges for the dots. */
export function chart(points: Point[], w: number, h: number, pad = 6, maxLabels = 8): Chart {
  if (points.length === 0) return { dots: [], path: "", min: 0, max: 0, labelled: [] };
  const values = points.map((p) => p.value);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min;
  const xOf = (i: number) => (points.length === 1 ? w / 2 : pad + (i * (w - 2 * pad)) / (points.length - 1));
  // A flat series is a line across the middle, not one glued to an edge.
  const yOf = (v: number) => (span === 0 ? h / 2 : pad + ((max - v) * (h - 2 * pad)) / span);
  const dots = points.map((p, i) => ({ ...p, x: xOf(i), y: yOf(p.value) }));
  const path = dots.length > 1 ? dots.map((d, i) => `${i ? "L" : "M"}${d.x.toFixed(1)},${d.y.toFixed(1)}`).join(" ") : "";
  const every = Math.max(1, Math.ceil(points.length / maxLabels));
  // The newest run is always labelled: it is the one the operator came to look at.
  const labelled = dots.map((_, i) => i).filter((i) => (points.length - 1 - i) % every === 0);
  return { dots, path, min, max, labelled };
}

/** Each step's origin by name, for the badges in a run's step list. */
export function originsOf(p: ExecutedPipeline | null): Map<string, StepOrigin> {
  return new Map((p?.steps ?? []).map((s) => [s.name, s.origin]));
}

/** "lint → test, then build" */
export function templateSteps(t: TemplateInfo): string {
  const steps = t.steps.join(" → ");
  if (!t.builds) return steps || "no steps";
  return steps ? `${steps}, then build` : "build only";
}
