// Grok: each message is a div id="response-<uuid>" aligned items-end (user) or items-start (Grok) with a
// .message-bubble; answers render .response-content-markdown. Same UI on grok.com and x.com/i/grok.
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, outermost,
  pathSegmentAfter, safely, toUrl,
} from "./common.js";

const SKIP = ".action-buttons";
// Code blocks carry their language only in a header label next to the <pre>.
const codeLanguage = (pre) => {
  const block = pre.closest("[data-testid='code-block']");
  const label = block && block.querySelector(".font-mono.text-xs, span");
  return label ? label.textContent : "";
};

function messageFor(el) {
  const bubble = first(el, [".message-bubble"]) || el;
  const markdown = first(bubble, [".response-content-markdown"]);
  const id = el.id && el.id.startsWith("response-") ? el.id.slice("response-".length) : "";
  const isUser = el.classList.contains("items-end") || (!el.classList.contains("items-start") && !markdown);
  if (isUser) {
    const body = first(bubble, [".whitespace-pre-wrap", "p.break-words"]);
    return message("user", extractText(body || bubble, { preserveWhitespace: !!body, skip: SKIP }), id);
  }
  return message("assistant", extractText(markdown || bubble, { skip: SKIP, codeLanguage }), id);
}

function conversationId(url) {
  if (url.hostname === "x.com") return url.searchParams.get("conversation");
  return pathSegmentAfter(url, "c");
}

export default {
  id: "grok",
  label: "Grok",
  matches: ["https://grok.com/*", "https://x.com/i/grok*"],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    let nodes = outermost(all(doc, ["div[id^='response-']"]));
    if (!nodes.length) nodes = outermost(all(doc, [".message-bubble"]));
    const messages = nodes.map(messageFor);
    const title = cleanTitle(doc.title, ["Grok", "X"]);
    const streaming = hasStopButton(doc, ["button[aria-label='Stop model response']"]);
    return finish("grok", conversationId(url), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["form .tiptap.ProseMirror[contenteditable='true']", "textarea[aria-label*='Grok' i]",
      "form textarea"]);
    const sendButton = first(doc, ["form button[type='submit'][aria-label='Submit']", "form button[type='submit']"]);
    return composerResult(element, sendButton);
  }),
};
