import { describe, expect, it } from "vitest";
import { applyEvent, dockerLine, listenerLine, webhookUrl } from "./status";
import { toApiError } from "./api";
import type { EngineStatus } from "./bindings";

const base: EngineStatus = {
  version: "0.1.0",
  instance_id: "0a1b2c3d",
  pid: 42,
  data_dir: "/d",
  store_path: "/d/slipway.db",
  schema_version: 1,
  listener: "http://127.0.0.1:7717",
  listener_error: null,
  docker: { endpoint: "unix:///var/run/docker.sock", reachable: true, version: "20.10.24", api_version: "1.41", error: null, latency_ms: 3.4 },
  auto_deploy_paused: false,
  runs_held: false,
  ui_clients: 0,
  secrets: "OS keychain",
};

describe("status lines", () => {
  it("shows a reachable engine with its version and latency", () => {
    expect(dockerLine(base.docker)).toEqual({ label: "Docker", value: "reachable at unix:///var/run/docker.sock (engine 20.10.24, 3 ms)", tone: "ok" });
  });
  it("shows the engine's own reason when Docker is unreachable", () => {
    const d = { ...base.docker, reachable: false, version: null, error: "socket /x.sock does not exist" };
    expect(dockerLine(d)).toEqual({ label: "Docker", value: "socket /x.sock does not exist", tone: "bad" });
  });
  it("shows the listener error when not listening", () => {
    const s = { ...base, listener: null, listener_error: "port in use" };
    expect(listenerLine(s).tone).toBe("bad");
    expect(listenerLine(s).value).toBe("port in use");
    expect(webhookUrl(s)).toBeNull();
  });
  it("builds the webhook URL from the listener", () => {
    expect(webhookUrl(base, "web")).toBe("http://127.0.0.1:7717/hooks/web");
  });
});

describe("engine events", () => {
  it("applies a pause without touching the rest", () => {
    const next = applyEvent(base, { type: "auto_deploy_changed", paused: true });
    expect(next?.auto_deploy_paused).toBe(true);
    expect(next?.docker).toBe(base.docker);
  });
  it("marks the listener gone on shutdown", () => {
    expect(applyEvent(base, { type: "shutting_down", quit: true })?.listener).toBeNull();
  });
  it("ignores events before the first status", () => {
    expect(applyEvent(null, { type: "shutting_down", quit: true })).toBeNull();
  });
});

describe("toApiError", () => {
  it("keeps the engine's shape", () => {
    expect(toApiError({ code: "store_corrupt", message: "bad file" })).toEqual({ code: "store_corrupt", message: "bad file" });
  });
  it("wraps anything else as internal", () => {
    expect(toApiError(new Error("boom"))).toEqual({ code: "internal", message: "boom" });
    expect(toApiError("plain")).toEqual({ code: "internal", message: "plain" });
  });
});
