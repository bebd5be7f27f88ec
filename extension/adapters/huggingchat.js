// HuggingChat (huggingface/chat-ui, Svelte): each message has data-message-id and data-message-role; the
// answer is a .prose block, the prompt a whitespace-preserving div. The composer is a plain textarea.
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, outermost,
  pathSegmentAfter, safely, toUrl,
} from "./common.js";

const SKIP = ".sr-only, [data-exclude-from-copy]";

function messageFor(el, role) {
  if (role === "user") {
    const body = first(el, ["[class*='whitespace-break-spaces']", "[class*='whitespace-pre']"]);
    return message("user", extractText(body || el, { preserveWhitespace: !!body, skip: SKIP }),
      el.getAttribute("data-message-id"));
  }
  const body = first(el, [".prose"]) || el;
  return message("assistant", extractText(body, { skip: SKIP }), el.getAttribute("data-message-id"));
}

export default {
  id: "huggingchat",
  label: "HuggingChat",
  matches: ["https://huggingface.co/chat*"],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    let messages = outermost(all(doc, ["[data-message-role][data-message-id]"])).map((el) => {
      const role = el.getAttribute("data-message-role");
      return role === "user" || role === "assistant" ? messageFor(el, role) : null;
    });
    if (!messages.some(Boolean)) {
      // Fallback: rows keyed by message id; the answer is the one rendering markdown.
      messages = outermost(all(doc, ["[data-message-id]"]))
        .map((el) => messageFor(el, el.querySelector(".prose") ? "assistant" : "user"));
    }
    const title = cleanTitle(doc.title, ["HuggingChat", "Hugging Face"]);
    const streaming = hasStopButton(doc, ["button[aria-label='Stop generating']"]);
    return finish("huggingchat", pathSegmentAfter(url, "conversation"), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["form textarea[enterkeyhint='send']", "form textarea"]);
    const sendButton = first(doc, ["form button[type='submit']", "button[aria-label='Send message']"]);
    return composerResult(element, sendButton);
  }),
};
