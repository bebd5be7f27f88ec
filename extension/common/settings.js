// User settings: one object in storage.local, merged over these defaults on every read so a
// setting added in a later version has a value without a migration.
import { api } from "./api.js";

export const SETTINGS_KEY = "settings";

export const DEFAULT_SETTINGS = Object.freeze({
  paused: false, // global pause: nothing is captured anywhere
  disabledSites: [], // adapter ids (or custom site ids) the user switched off
  customSites: [], // [{id, label, origin, selectors: {turn, user, assistant, composer, sendButton, title}}]
  budgetTokens: 1200, // context budget for the inject button
  redactions: [], // [{pattern, flags?, replacement?}] applied before anything leaves the browser
  capturePrivate: false, // private/incognito windows are never captured unless the person allows it
});

export async function loadSettings() {
  const stored = (await api.storage.local.get(SETTINGS_KEY))[SETTINGS_KEY] ?? {};
  return { ...DEFAULT_SETTINGS, ...stored };
}

export async function saveSettings(patch) {
  const next = { ...(await loadSettings()), ...patch };
  await api.storage.local.set({ [SETTINGS_KEY]: next });
  return next;
}

/** Compile the user's redaction rules; a broken pattern is skipped, never fatal. */
export function compileRedactions(rules) {
  const compiled = [];
  for (const rule of rules ?? []) {
    try {
      const flags = (rule.flags ?? "g").includes("g") ? rule.flags ?? "g" : `${rule.flags}g`;
      compiled.push({ re: new RegExp(rule.pattern, flags), replacement: rule.replacement ?? "[redacted]" });
    } catch {
      /* an invalid pattern is reported by the options page when it is typed */
    }
  }
  return compiled;
}

export function applyRedactions(text, compiled) {
  let out = text;
  for (const { re, replacement } of compiled) out = out.replace(re, replacement);
  return out;
}
