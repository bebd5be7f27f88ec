// Claude: user turns are [data-testid="user-message"]; answers are .font-claude-response (older builds:
// .font-claude-message) inside a wrapper whose data-is-streaming flips to "false" when the answer ends.
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, outermost,
  pathSegmentAfter, safely, textOf, toUrl,
} from "./common.js";

const USER = "[data-testid='user-message']";
const ASSISTANT = ".font-claude-response, .font-claude-message";

// Claude's answer chrome: code blocks sit in a "group/copy" box whose language label and copy control are
// siblings of the <pre>.
const SKIP = "[class*='group/copy'] > :not(:has(pre)), [data-testid='action-bar-copy']";

function messageFor(el) {
  if (el.matches(USER)) return message("user", extractText(el, { skip: SKIP }));
  return message("assistant", extractText(el, { skip: SKIP }));
}

export default {
  id: "claude",
  label: "Claude",
  matches: ["https://claude.ai/*"],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    // Fallback when the answer class is gone: the streaming wrappers still mark answers.
    const answers = doc.querySelector(ASSISTANT) ? ASSISTANT : "[data-is-streaming] .standard-markdown";
    const nodes = outermost(all(doc, [`${USER}, ${answers}`]));
    const messages = nodes.map((el) => (el.matches(USER)
      ? messageFor(el) : message("assistant", extractText(el, { skip: SKIP }))));
    const title = textOf(first(doc, ["[data-testid='chat-title-button'] .truncate",
      "[data-testid='chat-title-button']", "[data-testid='chat-menu-trigger']"]))
      || cleanTitle(doc.title, ["Claude"]);
    const streaming = !!first(doc, ["[data-is-streaming='true']"])
      || hasStopButton(doc, ["button[aria-label='Stop response']"]);
    return finish("claude", pathSegmentAfter(url, "chat"), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["[data-testid='chat-input'].ProseMirror[contenteditable='true']",
      "[data-testid='chat-input'] .ProseMirror[contenteditable='true']",
      "div.ProseMirror[contenteditable='true']", "fieldset [contenteditable='true']"]);
    const sendButton = first(doc, ["button[aria-label='Send message']", "button[aria-label='Send Message']",
      "fieldset button[type='submit']"]);
    return composerResult(element, sendButton);
  }),
};
