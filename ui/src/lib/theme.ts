// Light, dark, or whatever the OS says (the default). The choice lives in localStorage.
export type Theme = "system" | "light" | "dark";
const KEY = "slipway.theme";

export function loadTheme(storage: Pick<Storage, "getItem"> | undefined = globalThis.localStorage): Theme {
  const v = storage?.getItem(KEY);
  return v === "light" || v === "dark" ? v : "system";
}

export function saveTheme(t: Theme, storage: Pick<Storage, "setItem" | "removeItem"> | undefined = globalThis.localStorage): void {
  if (t === "system") storage?.removeItem(KEY);
  else storage?.setItem(KEY, t);
}

/** What the page shows: the choice, or the OS's preference for "system". */
export function resolveTheme(t: Theme, osPrefersDark: boolean): "light" | "dark" {
  return t === "system" ? (osPrefersDark ? "dark" : "light") : t;
}

/** Sets `data-theme` on the root; app.css keys its colours on it. */
export function applyTheme(t: Theme, root: { dataset: DOMStringMap } = document.documentElement, osPrefersDark = globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false): void {
  root.dataset.theme = resolveTheme(t, osPrefersDark);
}
