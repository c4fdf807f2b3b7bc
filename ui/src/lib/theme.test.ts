import { describe, expect, it } from "vitest";
import { applyTheme, loadTheme, resolveTheme, saveTheme } from "./theme";

function memory() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k), m };
}

describe("theme", () => {
  it("defaults to the OS and remembers an override", () => {
    const s = memory();
    expect(loadTheme(s)).toBe("system");
    saveTheme("dark", s);
    expect(loadTheme(s)).toBe("dark");
    saveTheme("system", s);
    expect(loadTheme(s)).toBe("system");
    expect(s.m.size).toBe(0);
    s.setItem("slipway.theme", "purple");
    expect(loadTheme(s)).toBe("system");
  });
  it("resolves system from the OS preference and marks the root", () => {
    expect(resolveTheme("system", true)).toBe("dark");
    expect(resolveTheme("system", false)).toBe("light");
    expect(resolveTheme("light", true)).toBe("light");
    const root = { dataset: {} as DOMStringMap };
    applyTheme("system", root, true);
    expect(root.dataset.theme).toBe("dark");
    applyTheme("light", root, true);
    expect(root.dataset.theme).toBe("light");
  });
});
