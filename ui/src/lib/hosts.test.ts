import { describe, expect, it } from "vitest";
import { bytes, containerTone, fieldError, groupTitle, shortImage } from "./hosts";

describe("hosts helpers", () => {
  it("puts an engine error beside its field", () => {
    expect(fieldError("endpoint: a tcp host's endpoint looks like tcp://10.0.0.5:2376", ["name", "endpoint"])).toEqual({
      field: "endpoint",
      message: "a tcp host's endpoint looks like tcp://10.0.0.5:2376",
    });
    expect(fieldError("host box: connection refused", ["name", "endpoint"])).toBeNull();
    expect(fieldError("tls_ca: x", ["name"])).toBeNull();
  });

  it("tones containers by state and health", () => {
    expect(containerTone("running", null)).toBe("ok");
    expect(containerTone("running", "unhealthy")).toBe("bad");
    expect(containerTone("running", "starting")).toBe("warn");
    expect(containerTone("exited", null)).toBe("muted");
  });

  it("names groups and sizes", () => {
    expect(groupTitle({ kind: "compose", name: "blog", containers: [] })).toBe("Compose project blog");
    expect(groupTitle({ kind: "standalone", name: "", containers: [] })).toBe("Other containers");
    expect(bytes(512)).toBe("512 B");
    expect(bytes(3 * 1024 * 1024)).toBe("3.0 MiB");
  });

  it("shortens digest-only images", () => {
    expect(shortImage("sha256:f83d3422fa8e2f1dc2deb4170097404a5c020524429908b536fcc8249b4557ae")).toBe("f83d3422fa8e");
    expect(shortImage("nginx:1.27")).toBe("nginx:1.27");
  });
});
