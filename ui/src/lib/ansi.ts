// ANSI SGR colour codes in log lines → styled segments. Anything else (cursor moves, OSC) is
// dropped, so the text stays readable.

export interface Segment {
  text: string;
  fg: number | null; // 0-7, or 8-15 for bright
  bold: boolean;
}

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;]*)([A-Za-z])|\x1b\][^\x07]*\x07/g;

export function parseAnsi(line: string): Segment[] {
  const out: Segment[] = [];
  let fg: number | null = null;
  let bold = false;
  let last = 0;
  const push = (text: string) => {
    if (text) out.push({ text, fg, bold });
  };
  for (const m of line.matchAll(ESCAPE)) {
    push(line.slice(last, m.index));
    last = (m.index ?? 0) + m[0].length;
    if (m[2] !== "m") continue;
    const codes = (m[1] || "0").split(";").map(Number);
    for (const c of codes) {
      if (c === 0) {
        fg = null;
        bold = false;
      } else if (c === 1) bold = true;
      else if (c === 22) bold = false;
      else if (c >= 30 && c <= 37) fg = c - 30;
      else if (c >= 90 && c <= 97) fg = c - 90 + 8;
      else if (c === 39) fg = null;
    }
  }
  push(line.slice(last));
  return out;
}
