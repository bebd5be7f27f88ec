// Shared helpers for Satchel's content scripts. Content scripts are classic scripts that share
// one isolated global (never the page's): each file adds to the `Satchel` namespace.
// Nothing here may throw into the page: every entry point catches and logs.
"use strict";

var Satchel = globalThis.Satchel ?? {}; // eslint-disable-line no-var
globalThis.Satchel = Satchel;

Satchel.api = globalThis.browser ?? globalThis.chrome;

/** Ask the background's message table; resolves to data or throws {code, message}. */
Satchel.send = async function send(action, args = {}) {
  const reply = await Satchel.api.runtime.sendMessage({ action, args });
  if (!reply) throw Object.assign(new Error("no reply from Satchel"), { code: "no_reply" });
  if (!reply.ok) throw Object.assign(new Error(reply.error?.message ?? "error"), { code: reply.error?.code });
  return reply.data;
};

/** Run fn, swallowing (and logging) any error: a broken adapter must never break the page. */
Satchel.guard = function guard(label, fn) {
  return function guarded(...args) {
    try {
      const out = fn.apply(this, args);
      if (out && typeof out.then === "function") {
        return out.catch((e) => Satchel.log(`${label} failed`, e));
      }
      return out;
    } catch (e) {
      Satchel.log(`${label} failed`, e);
      return undefined;
    }
  };
};

Satchel.log = function log(...args) {
  try {
    console.debug("[satchel]", ...args);
  } catch {
    /* console may be replaced by the page */
  }
};

/** cyrb53: a fast 53-bit string hash; enough to tell "already sent" from "new". */
Satchel.hash = function hash(str, seed = 0) {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
};

Satchel.normalizeSpace = function normalizeSpace(text) {
  return String(text ?? "").replace(/\s+/g, " ").trim();
};
