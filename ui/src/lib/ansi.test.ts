import { describe, expect, it } from "vitest";
import { parseAnsi } from "./ansi";

describe("parseAnsi", () => {
  it("keeps plain text whole", () => {
    expect(parseAnsi("hello")).toEqual([{ text: "hello", fg: null, bold: false }]);
  });
  it("colours and resets", () => {
    expect(parseAnsi("\x1b[31merror\x1b[0m done")).toEqual([
      { text: "error", fg: 1, bold: false },
      { text: " done", fg: null, bold: false },
    ]);
  });
  it("handles bold bright and combined codes", () => {
    expect(parseAnsi("\x1b[1;92mok")).toEqual([{ text: "ok", fg: 10, bold: true }]);
  });
  it("drops cursor moves and OSC titles", () => {
    expect(parseAnsi("\x1b[2Kline\x1b]0;title\x07!")).toEqual([
      { text: "line", fg: null, bold: false },
      { text: "!", fg: null, bold: false },
    ]);
  });
});
