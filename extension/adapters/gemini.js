// Gemini (Angular): each exchange is a .conversation-container holding <user-query> and <model-response>;
// the answer body is <message-content id="message-content-id-r_..."> (a stable response id).
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, safely, textOf, toUrl,
} from "./common.js";

const SKIP = ".code-block-decoration, .response-footer, sources-list, .thoughts-header, model-thoughts";

function userText(query) {
  // Gemini renders each line of the prompt as its own <p class="query-text-line">.
  const lines = Array.from(query.querySelectorAll(".query-text-line"));
  if (lines.length) return lines.map((p) => extractText(p, { preserveWhitespace: true })).join("\n").trim();
  return extractText(first(query, [".query-text", ".user-query-bubble-with-background"]) || query,
    { skip: ".cdk-visually-hidden" });
}

function answer(response) {
  const body = first(response, ["message-content", ".model-response-text", ".markdown"]) || response;
  const idSource = body.id || (first(response, ["[id^='message-content-id-']"]) || {}).id || "";
  const id = idSource.startsWith("message-content-id-") ? idSource.slice("message-content-id-".length) : "";
  return message("assistant", extractText(first(body, [".markdown"]) || body, { skip: SKIP }), id);
}

function conversationId(url) {
  // /app/<hex>, /gem/<gem-id>/<hex>, with an optional /u/<n> account prefix.
  const m = url.pathname.match(/\/(?:app|gem\/[^/]+)\/([0-9a-f]{8,})/i);
  return m ? m[1] : null;
}

export default {
  id: "gemini",
  label: "Gemini",
  matches: ["https://gemini.google.com/*"],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    const messages = [];
    for (const node of all(doc, ["user-query, model-response", ".user-query-container, .response-container"])) {
      if (node.matches("user-query, .user-query-container")) messages.push(message("user", userText(node)));
      else messages.push(answer(node));
    }
    const title = textOf(first(doc, [".conversation.selected .conversation-title",
      "[data-test-id='conversation-title']"])) || cleanTitle(doc.title, ["Gemini", "Google Gemini"]);
    const streaming = hasStopButton(doc, ["button.send-button.stop", "button[aria-label='Stop response']"])
      || !!first(doc, ["model-response [aria-busy='true']", "pending-request"]);
    return finish("gemini", conversationId(url), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["rich-textarea .ql-editor[contenteditable='true']", ".ql-editor[contenteditable='true']",
      "rich-textarea [contenteditable='true']"]);
    const sendButton = first(doc, ["button.send-button", "button[aria-label='Send message']"]);
    return composerResult(element, sendButton);
  }),
};
