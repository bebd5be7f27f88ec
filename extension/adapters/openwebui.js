// Open WebUI (self-hosted, Svelte): every message is id="message-<uuid>" holding a .chat-user or
// .chat-assistant body; the composer is #chat-input (tiptap/ProseMirror, or a textarea when rich text is
// off) with #send-message-button. Registered only for origins the user adds.
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, outermost,
  pathSegmentAfter, safely, toUrl,
} from "./common.js";

const SKIP = ".buttons";

function messageFor(el) {
  const id = el.id && el.id.startsWith("message-") ? el.id.slice("message-".length) : "";
  const user = el.matches(".chat-user") ? el : el.querySelector(".chat-user");
  if (user) return message("user", extractText(user, { skip: SKIP }), id);
  const assistant = el.matches(".chat-assistant") ? el : el.querySelector(".chat-assistant");
  if (!assistant) return null;
  const body = first(assistant, ["#response-content-container"]) || assistant;
  return message("assistant", extractText(body, { skip: SKIP }), id);
}

export default {
  id: "openwebui",
  label: "Open WebUI",
  matches: [],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    const root = first(doc, ["#messages-container", "#chat-container"]) || doc;
    let nodes = outermost(all(root, ["[id^='message-']"])).filter((el) => el.querySelector(".chat-user, .chat-assistant"));
    if (!nodes.length) nodes = outermost(all(root, [".chat-user, .chat-assistant"]));
    const messages = nodes.map(messageFor);
    // Open WebUI renders a message's action row (.buttons) only once the answer is done.
    const lastAssistant = nodes.filter((el) => el.matches(".chat-assistant") || el.querySelector(".chat-assistant")).pop();
    const lastUnfinished = !!lastAssistant
      && !(lastAssistant.closest("[id^='message-']") || lastAssistant.parentElement || lastAssistant).querySelector(".buttons");
    const streaming = hasStopButton(doc) || lastUnfinished;
    const title = cleanTitle(doc.title, ["Open WebUI"]);
    return finish("openwebui", pathSegmentAfter(url, "c"), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["#chat-input.ProseMirror", "#chat-input [contenteditable='true']", "#chat-input",
      "form textarea"]);
    const sendButton = first(doc, ["#send-message-button", "form button[type='submit']"]);
    return composerResult(element, sendButton);
  }),
};
