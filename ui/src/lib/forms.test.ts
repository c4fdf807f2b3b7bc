import { describe, expect, it } from "vitest";
import { checkForgeAccount, fieldOf } from "./forms";

describe("forms", () => {
  it("engine messages that name a field go next to it", () => {
    expect(fieldOf("name: lowercase letters", ["name", "token"])).toEqual({ field: "name", message: "lowercase letters" });
    expect(fieldOf("keychain: locked", ["name"])).toBeNull();
    expect(fieldOf("no colon here", ["name"])).toBeNull();
  });
  it("forge accounts need a slug name, a token, and an http(s) API base if any", () => {
    expect(checkForgeAccount({ name: "work-github", token: "t", api_base: "" })).toEqual({});
    const e = checkForgeAccount({ name: "Work GitHub", token: "  ", api_base: "api.github.com" });
    expect(Object.keys(e).sort()).toEqual(["api_base", "name", "token"]);
  });
});
