// Poe: CSS-module class names keep a readable prefix before the hash (ChatMessage_chatMessage__x1y2z), so
// the adapter matches on prefixes: right-side bubbles are the user's, left-side ones the bot's.
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, outermost,
  pathSegmentAfter, safely, textOf, toUrl,
} from "./common.js";

const USER = "[class*='Message_rightSideMessageBubble'], [class*='Message_humanMessageBubble']";
const BOT = "[class*='Message_leftSideMessageBubble'], [class*='Message_botMessageBubble']";
const SKIP = "[class*='MessageHeader'], [class*='BotHeader'], [class*='Message_messageMetadata']";

function body(bubble) {
  return first(bubble, ["[class*='Markdown_markdownContainer']"]) || bubble;
}

export default {
  id: "poe",
  label: "Poe",
  matches: ["https://poe.com/*"],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    const messages = outermost(all(doc, [`${USER}, ${BOT}`])).map((bubble) => (bubble.matches(USER)
      ? message("user", extractText(body(bubble), { skip: SKIP }))
      : message("assistant", extractText(body(bubble), { skip: SKIP }))));
    const title = textOf(first(doc, ["[class*='ChatHeader_titleText']"])) || cleanTitle(doc.title, ["Poe"]);
    const streaming = hasStopButton(doc, ["button[aria-label='Stop message']", "[class*='ChatStopMessageButton']"]);
    return finish("poe", pathSegmentAfter(url, "chat"), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["textarea[class*='GrowingTextArea_textArea']", "footer textarea", "textarea"]);
    const sendButton = first(doc, ["button[data-button-send='true']", "button[aria-label='Send message']"]);
    return composerResult(element, sendButton);
  }),
};
