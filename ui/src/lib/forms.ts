// Form checks done before the engine sees the input, so the message sits next to the field.
// The engine checks again; its `invalid_input` messages start with the field name ("name: …").

export type FieldErrors = Record<string, string>;

/** Splits an engine message "field: what is wrong" into the field and the rest, when it names one of `fields`. */
export function fieldOf(message: string, fields: string[]): { field: string; message: string } | null {
  const i = message.indexOf(":");
  if (i <= 0) return null;
  const field = message.slice(0, i).trim();
  return fields.includes(field) ? { field, message: message.slice(i + 1).trim() } : null;
}

export function checkForgeAccount(a: { name: string; token: string; api_base: string }): FieldErrors {
  const e: FieldErrors = {};
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(a.name)) e.name = "lowercase letters, digits and dashes";
  if (!a.token.trim()) e.token = "paste the forge's access token";
  if (a.api_base.trim() && !/^https?:\/\/\S+$/.test(a.api_base.trim())) e.api_base = "an http(s) URL, or empty for the forge's default";
  return e;
}
