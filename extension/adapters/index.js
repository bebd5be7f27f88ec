// The adapter registry: which adapter runs on which page.
import chatgpt from "./chatgpt.js";
import claude from "./claude.js";
import gemini from "./gemini.js";
import lechat from "./lechat.js";
import perplexity from "./perplexity.js";
import copilot from "./copilot.js";
import deepseek from "./deepseek.js";
import grok from "./grok.js";
import huggingchat from "./huggingchat.js";
import poe from "./poe.js";
import openwebui from "./openwebui.js";
import { customAdapter } from "./custom.js";

export { customAdapter };

export const ADAPTERS = [
  chatgpt, claude, gemini, lechat, perplexity, copilot, deepseek, grok, huggingchat, poe, openwebui,
];

// Adapters a user may attach to an origin of their own (self-hosted apps) instead of writing selectors.
export const SELF_HOSTED = { openwebui };

/** Parses a WebExtension match pattern ("https://*.example.com/path*") into a matcher; null if invalid. */
export function parseMatchPattern(pattern) {
  if (pattern === "<all_urls>") return () => true;
  const m = /^(\*|https?|wss?|file|ftp):\/\/(\*|\*\.[^/*]+|[^/*]+)?(\/.*)$/.exec(pattern || "");
  if (!m) return null;
  const [, scheme, host = "", path] = m;
  const escape = (s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  const pathRe = new RegExp(`^${escape(path).replace(/\*/g, ".*")}$`);
  return (url) => {
    const protocol = url.protocol.slice(0, -1);
    if (scheme === "*" ? !["http", "https", "ws", "wss"].includes(protocol) : protocol !== scheme) return false;
    if (host !== "*") {
      // Match patterns carry no port: a host matches on every port, as in the browsers.
      const hostname = host.replace(/:\d+$/, "");
      if (hostname.startsWith("*.")) {
        const base = hostname.slice(2);
        if (url.hostname !== base && !url.hostname.endsWith(`.${base}`)) return false;
      } else if (url.hostname !== hostname) {
        return false;
      }
    }
    return pathRe.test(url.pathname + url.search);
  };
}

function matchesAny(patterns, url) {
  return patterns.some((pattern) => {
    const test = parseMatchPattern(pattern);
    return !!test && test(url);
  });
}

/** The match pattern for a user-added origin (match patterns have no port, so none is kept). */
export function originPattern(origin) {
  const url = new URL(origin);
  return `${url.protocol}//${url.hostname}/*`;
}

function bindToOrigin(adapter, site) {
  return { ...adapter, matches: [originPattern(site.origin)], label: site.label || adapter.label };
}

/**
 * The adapter for a page, or null. customSites: [{origin, label, selectors}] from the options page, or
 * {origin, label, adapter: "openwebui"} to run a known self-hosted adapter on that origin. A user's own
 * configuration for an origin wins over the built-in adapter.
 */
export function adapterForUrl(url, customSites = []) {
  let parsed;
  try {
    parsed = new URL(typeof url === "string" ? url : url.href);
  } catch {
    return null;
  }
  for (const site of customSites || []) {
    if (!site || !site.origin) continue;
    let origin;
    try {
      origin = new URL(site.origin).origin;
    } catch {
      continue;
    }
    if (origin !== parsed.origin) continue;
    if (site.adapter && SELF_HOSTED[site.adapter]) return bindToOrigin(SELF_HOSTED[site.adapter], site);
    if (site.selectors && site.selectors.turn) return customAdapter(site);
  }
  return ADAPTERS.find((adapter) => matchesAny(adapter.matches, parsed)) || null;
}
