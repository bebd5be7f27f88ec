// Mistral Le Chat: messages carry data-message-author-role and data-message-id; the answer body is a
// .prose block. The composer is a tiptap (ProseMirror) editor; older builds use a textarea.
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, outermost,
  pathSegmentAfter, safely, textOf, toUrl,
} from "./common.js";

const SKIP = "[data-message-part-type='reasoning'], [data-message-part-type='tool']";

function text(el, role) {
  if (role === "user") {
    const body = first(el, [".whitespace-pre-wrap", "[class*='whitespace-pre']"]);
    return extractText(body || el, { preserveWhitespace: !!body, skip: SKIP });
  }
  const parts = all(el, ["[data-message-part-type='answer']", ".prose"]);
  return parts.length ? parts.map((p) => extractText(p, { skip: SKIP })).join("\n\n") : extractText(el, { skip: SKIP });
}

function fromRoles(doc) {
  return outermost(all(doc, ["[data-message-author-role]"])).map((el) => {
    const role = el.getAttribute("data-message-author-role");
    if (role !== "user" && role !== "assistant") return null;
    return message(role, text(el, role), el.getAttribute("data-message-id"));
  });
}

// Fallback: rows with a message id; an answer is the row that renders markdown.
function fromIds(doc) {
  return outermost(all(doc, ["[data-message-id]"])).map((el) => {
    const role = el.querySelector(".prose") ? "assistant" : "user";
    return message(role, text(el, role), el.getAttribute("data-message-id"));
  });
}

export default {
  id: "lechat",
  label: "Mistral Le Chat",
  matches: ["https://chat.mistral.ai/*"],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    let messages = fromRoles(doc);
    if (!messages.some(Boolean)) messages = fromIds(doc);
    const title = textOf(first(doc, ["[data-testid='chat-title']"])) || cleanTitle(doc.title, ["Le Chat", "Mistral AI"]);
    const streaming = hasStopButton(doc) || !!first(doc, ["[data-message-streaming='true']"]);
    return finish("lechat", pathSegmentAfter(url, "chat"), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["form .ProseMirror[contenteditable='true']", ".ProseMirror[contenteditable='true']",
      "textarea[name='message.text']", "form textarea"]);
    const sendButton = first(doc, ["button[aria-label='Send question']", "form button[type='submit']"]);
    return composerResult(element, sendButton);
  }),
};
