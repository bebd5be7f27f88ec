// Microsoft Copilot: turns are marked data-content="user-message" / "ai-message"; the composer is the
// #userInput textarea.
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, outermost,
  pathSegmentAfter, safely, textOf, toUrl,
} from "./common.js";

const USER = "[data-content='user-message']";
const AI = "[data-content='ai-message']";
const SKIP = "[data-testid='message-actions'], [data-testid*='citation']";

export default {
  id: "copilot",
  label: "Microsoft Copilot",
  matches: ["https://copilot.microsoft.com/*"],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    let nodes = outermost(all(doc, [`${USER}, ${AI}`]));
    let isUser = (el) => el.matches(USER);
    if (!nodes.length) {
      nodes = outermost(all(doc, ["[data-testid='user-message'], [data-testid='ai-message']"]));
      isUser = (el) => el.matches("[data-testid='user-message']");
    }
    const messages = nodes.map((el) => {
      if (!isUser(el)) return message("assistant", extractText(el, { skip: SKIP }));
      const body = first(el, ["[class*='whitespace-pre']"]);
      return message("user", extractText(body || el, { preserveWhitespace: !!body, skip: SKIP }));
    });
    // The tab title is Copilot's generic one; the conversation's own title is the current sidebar entry.
    const title = textOf(first(doc, ["nav [aria-current='page']", "[data-testid='conversation-title']"]))
      || cleanTitle(doc.title.replace(/^Microsoft Copilot.*$/i, ""), ["Microsoft Copilot", "Copilot"]);
    const streaming = hasStopButton(doc, ["button[data-testid='stop-button']", "button[aria-label='Interrupt message']"]);
    return finish("copilot", pathSegmentAfter(url, "chats"), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["textarea#userInput", "textarea[data-testid='composer-input']", "form textarea"]);
    const sendButton = first(doc, ["button[data-testid='submit-button']", "button[aria-label='Submit message']"]);
    return composerResult(element, sendButton);
  }),
};
