// Perplexity: a thread is a list of query/answer entries; the query sits in a "group/query" block and the
// answer in #markdown-content-<n> (.prose). The ask box is a Lexical editor (#ask-input), formerly a textarea.
import {
  all, cleanTitle, composerResult, extractText, finish, first, hasStopButton, message, outermost,
  pathSegmentAfter, safely, toUrl,
} from "./common.js";

const QUERY = "[class*='group/query']";
const ANSWER = "[id^='markdown-content-']";
const SKIP = ".citation, [data-testid='citation']";

function entries(doc) {
  let nodes = outermost(all(doc, [`${QUERY}, ${ANSWER}`]));
  if (!nodes.length) nodes = outermost(all(doc, ["main h1, main .prose"]));
  return nodes.map((el) => {
    if (el.matches(`${QUERY}, h1`)) {
      const body = first(el, [".select-text", "span"]) || el;
      return message("user", extractText(body, { preserveWhitespace: true }));
    }
    return message("assistant", extractText(el, { skip: SKIP }));
  });
}

export default {
  id: "perplexity",
  label: "Perplexity",
  matches: ["https://www.perplexity.ai/*", "https://perplexity.ai/*"],
  extract: safely((doc, loc) => {
    const url = toUrl(loc);
    if (!url) return null;
    const messages = entries(doc);
    const title = cleanTitle(doc.title, ["Perplexity"]);
    const streaming = hasStopButton(doc, ["button[data-testid='stop-generating-response-button']"]);
    return finish("perplexity", pathSegmentAfter(url, "search"), title, url, messages, streaming);
  }),
  composer: safely((doc) => {
    const element = first(doc, ["#ask-input[data-lexical-editor='true']", "[data-lexical-editor='true'][contenteditable='true']",
      "textarea#ask-input", "textarea[placeholder*='Ask' i]"]);
    const sendButton = first(doc, ["button[data-testid='submit-button']", "button[aria-label='Submit']"]);
    return composerResult(element, sendButton);
  }),
};
