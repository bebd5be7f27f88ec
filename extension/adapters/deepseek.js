// DeepSeek: every turn is a .ds-message; an answer renders .ds-markdown (its reasoning sits in
// .ds-think-content and is not part of the answer). Class names besides ds-* are hashed, so roles come from
// the presence of .ds-markdown. The composer is textarea#chat-input with a div[role=button] to send.
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, outermost,
  pathSegmentAfter, safely, sendButtonNear, toUrl,
} from "./common.js";

const THINK = ".ds-think-content, [class*='think']";
// Code blocks: a banner (language, copy, download) above a bare <pre>.
const BANNER = ".md-code-block-banner-wrap, .md-code-block-banner";
const codeLanguage = (pre) => {
  const block = pre.closest(".md-code-block");
  const banner = block && block.querySelector(".md-code-block-banner");
  const label = banner && (banner.querySelector("span") || banner.querySelector("div"));
  return label ? label.textContent : "";
};

function answerText(turn) {
  const bodies = Array.from(turn.querySelectorAll(".ds-markdown")).filter((md) => !md.closest(THINK));
  return bodies.map((md) => extractText(md, { skip: `.ds-markdown-cite, ${BANNER}`, codeLanguage })).join("\n\n");
}

function turnMessage(turn) {
  if (turn.querySelector(".ds-markdown")) return message("assistant", answerText(turn));
  return message("user", extractText(turn, { preserveWhitespace: true, skip: ".ds-icon-button" }));
}

export default {
  id: "deepseek",
  label: "DeepSeek",
  matches: ["https://chat.deepseek.com/*"],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    const turns = outermost(all(doc, [".ds-message", "[data-virtual-list-item-key]"]));
    const messages = turns.map(turnMessage);
    const last = turns[turns.length - 1];
    // Finished answers get their action row (copy, regenerate); a turn still streaming has none yet.
    const lastUnfinished = !!last && !!last.querySelector(".ds-markdown")
      && !(last.parentElement || last).querySelector(".ds-icon-button");
    const streaming = hasStopButton(doc) || lastUnfinished;
    const title = cleanTitle(doc.title, ["DeepSeek"]);
    return finish("deepseek", pathSegmentAfter(url, "s"), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["textarea#chat-input", "textarea[placeholder*='DeepSeek']", "textarea"]);
    const sendButton = sendButtonNear(doc, element, ["[data-testid='send-button']"]);
    return composerResult(element, sendButton);
  }),
};
