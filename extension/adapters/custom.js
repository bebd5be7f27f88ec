// Adapters built from CSS selectors the user enters on the options page, for sites Satchel does not know.
// site: {origin, label, selectors: {turn, user, assistant, title?, composer?, sendButton?, streaming?}}
import {
  cleanTitle, composerResult, extractText, finish, first, message, outermost, safely, textOf, toUrl,
} from "./common.js";

function selectAll(root, selector) {
  if (!selector) return [];
  try {
    return Array.from(root.querySelectorAll(selector));
  } catch {
    return [];
  }
}

function matches(el, selector) {
  if (!selector) return false;
  try {
    return el.matches(selector);
  } catch {
    return false;
  }
}

/** Messages of one turn element: the turn itself when it matches a role, else every user/assistant element
 * inside it in page order (sites that group a question and its answer in one block). */
function turnMessages(turn, sel) {
  if (matches(turn, sel.user)) return [message("user", extractText(turn))];
  if (matches(turn, sel.assistant)) return [message("assistant", extractText(turn))];
  const inner = outermost(selectAll(turn, [sel.user, sel.assistant].filter(Boolean).join(", ")));
  return inner.map((el) => message(matches(el, sel.user) ? "user" : "assistant", extractText(el)));
}

/** Conversation id for a site without a known URL scheme: its path (and query), which is what most chat
 * apps change per conversation. */
function conversationId(url) {
  const path = url.pathname.replace(/\/+$/, "");
  return ((path || "/") + url.search).slice(0, 500); // the host caps conversation ids at 500 characters
}

function patternFor(origin) {
  try {
    const url = new URL(origin);
    return [`${url.protocol}//${url.hostname}/*`];
  } catch {
    return [];
  }
}

export function customAdapter(site) {
  const origin = site && site.origin ? String(site.origin).replace(/\/+$/, "") : "";
  const sel = (site && site.selectors) || {};
  const provider = `custom:${origin}`;
  return {
    id: provider,
    label: (site && site.label) || origin,
    matches: patternFor(origin),
    custom: true,
    extract: safely((doc, loc) => {
      const url = toUrl(loc);
      if (!url || !sel.turn) return null;
      const messages = outermost(selectAll(doc, sel.turn)).flatMap((turn) => turnMessages(turn, sel));
      const title = textOf(sel.title ? first(doc, [sel.title]) : null) || cleanTitle(doc.title, []);
      const streaming = !!(sel.streaming && first(doc, [sel.streaming]));
      return finish(provider, conversationId(url), title, url, messages, streaming);
    }),
    composer: safely((doc) => {
      const element = sel.composer ? first(doc, [sel.composer]) : null;
      const sendButton = sel.sendButton ? first(doc, [sel.sendButton]) : null;
      return composerResult(element, sendButton);
    }),
  };
}
