// ChatGPT: every message carries data-message-author-role and its own data-message-id (the id of the
// node in the conversation tree), inside <article data-testid="conversation-turn-N">.
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, pathSegmentAfter,
  safely, textOf, toUrl,
} from "./common.js";

const ROLES = new Set(["user", "assistant"]);

function messageText(el, role) {
  if (role === "user") {
    const body = first(el, [".whitespace-pre-wrap", "[data-user-message-bubble]"]);
    return extractText(body || el, { preserveWhitespace: !!body });
  }
  const body = first(el, [".markdown", "[data-assistant-markdown]"]);
  return extractText(body || el);
}

function fromMessageNodes(doc) {
  return all(doc, ["[data-message-author-role][data-message-id]", "[data-message-author-role]"])
    .map((el) => {
      const role = el.getAttribute("data-message-author-role");
      if (!ROLES.has(role)) return null;
      return message(role, messageText(el, role), el.getAttribute("data-message-id"));
    });
}

// Fallback: the turn articles alone (the inner role attributes gone), roles from data-turn.
function fromTurns(doc) {
  return all(doc, ["article[data-testid^='conversation-turn']"]).map((turn) => {
    const role = turn.getAttribute("data-turn");
    if (!ROLES.has(role)) return null;
    return message(role, messageText(turn, role));
  });
}

export default {
  id: "chatgpt",
  label: "ChatGPT",
  matches: ["https://chatgpt.com/*", "https://chat.openai.com/*"],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    let messages = fromMessageNodes(doc);
    if (!messages.some(Boolean)) messages = fromTurns(doc);
    const title = textOf(first(doc, ["nav a[aria-current='page']", "nav a[data-active]"]))
      || cleanTitle(doc.title, ["ChatGPT"]);
    const streaming = hasStopButton(doc, ["button[data-testid='stop-button']"])
      || !!first(doc, [".result-streaming", ".streaming-animation"]);
    return finish("chatgpt", pathSegmentAfter(url, "c"), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["#prompt-textarea", "form [contenteditable='true'].ProseMirror",
      "form textarea"]);
    const sendButton = first(doc, ["button[data-testid='send-button']", "#composer-submit-button",
      "button[aria-label='Send prompt']"]);
    return composerResult(element, sendButton);
  }),
};
