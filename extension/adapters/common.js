// Shared helpers for site adapters. Everything here is pure: it reads the DOM it is given and never
// writes to it, never forces layout (no innerText, no getComputedStyle) and never touches the network.

// UI chrome that never belongs in a captured message: controls, icons, screen-reader labels such as
// ChatGPT's "You said:", and anything the page hides from assistive technology.
export const CHROME_SELECTOR = [
  "button", "svg", "style", "script", "noscript", "template", "textarea", "input", "select", "img",
  "[hidden]", "[aria-hidden='true']", ".sr-only", ".visually-hidden", "[role='button']", "[role='toolbar']",
  "[role='menu']", "[role='tooltip']",
].join(", ");

const PARAGRAPH_TAGS = new Set([
  "P", "H1", "H2", "H3", "H4", "H5", "H6", "BLOCKQUOTE", "TABLE", "FIGURE", "HR", "DL", "DETAILS",
]);
const LINE_TAGS = new Set([
  "DIV", "SECTION", "ARTICLE", "HEADER", "FOOTER", "MAIN", "ASIDE", "NAV", "TR", "DT", "DD", "SUMMARY",
  "FIGCAPTION", "ADDRESS", "CENTER", "FORM", "FIELDSET",
]);

function isPreformatted(el) {
  if (el.tagName === "PRE") return true;
  const style = el.getAttribute("style") || "";
  if (/white-space\s*:\s*pre/i.test(style)) return true;
  const cls = typeof el.className === "string" ? el.className : "";
  return /(^|\s)(whitespace-pre(-wrap|-line)?|whitespace-break-spaces|white-space-pre)(\s|$)/.test(cls);
}

function codeLanguage(pre, code) {
  for (const el of [code, pre]) {
    if (!el) continue;
    const lang = el.getAttribute("data-language") || el.getAttribute("data-lang");
    if (lang) return lang.trim();
    const cls = typeof el.className === "string" ? el.className : "";
    const m = cls.match(/(?:^|\s)(?:language|lang)-([\w+#.-]+)/);
    if (m) return m[1];
  }
  return "";
}

function fenceFor(text) {
  const longest = Math.max(2, ...(text.match(/`+/g) || []).map((run) => run.length));
  return "`".repeat(longest + 1);
}

// Builds text with explicit break requests so nested blocks never produce runs of blank lines.
class TextBuilder {
  constructor() {
    this.parts = [];
    this.pendingBreak = 0;
    this.atLineStart = true;
  }
  requestBreak(n) {
    // Right after a list marker the item's first block starts on the marker's line.
    if (this.afterMarker) return;
    if (this.parts.length) this.pendingBreak = Math.max(this.pendingBreak, n);
  }
  emit(text, { raw = false } = {}) {
    if (!text) return;
    if (!raw) {
      text = text.replace(/[ \t\n\r\f\u00a0]+/g, " ");
      if (this.atLineStart || this.pendingBreak) text = text.replace(/^ /, "");
      if (!text) return;
    } else {
      text = text.replace(/\u00a0/g, " ");
    }
    if (this.pendingBreak && this.parts.length) {
      this.parts.push("\n".repeat(this.pendingBreak));
    }
    this.pendingBreak = 0;
    this.afterMarker = false;
    this.parts.push(text);
    this.atLineStart = text.endsWith("\n");
  }
  newline() {
    this.parts.push("\n");
    this.atLineStart = true;
  }
  toString() {
    return this.parts.join("")
      .split("\n").map((line) => line.replace(/[ \t]+$/, "")).join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trim();
  }
}

/**
 * Visible text of a message element: code blocks fenced in ```, paragraphs separated by blank lines,
 * list items as "- " / "1. " lines, UI chrome dropped.
 * options.skip: extra selector of elements to drop (site-specific chrome).
 * options.preserveWhitespace: treat the root as pre-wrap (user prompts are shown verbatim on every site).
 * options.codeLanguage(pre): the language of a code block whose markup does not say it (site label).
 */
export function extractText(root, options = {}) {
  if (!root) return "";
  const skip = options.skip ? `${CHROME_SELECTOR}, ${options.skip}` : CHROME_SELECTOR;
  const out = new TextBuilder();
  walk(root, out, {
    skip, pre: !!options.preserveWhitespace, listDepth: 0, isRoot: true, codeLanguage: options.codeLanguage,
  });
  return out.toString();
}

function walk(node, out, ctx) {
  if (node.nodeType === 3) {
    out.emit(node.nodeValue, { raw: ctx.pre });
    return;
  }
  if (node.nodeType !== 1) return;
  const el = node;
  if (!ctx.isRoot && el.matches(ctx.skip)) return;
  const tag = el.tagName;
  if (!ctx.isRoot && isCodeLabel(el, ctx)) return;
  const childCtx = { ...ctx, isRoot: false, pre: ctx.pre || isPreformatted(el) };

  if (tag === "BR") {
    out.newline();
    return;
  }
  if (tag === "PRE" || (tag === "CODE-BLOCK")) {
    emitCodeBlock(el, out, ctx);
    return;
  }
  if (tag === "CODE") {
    const code = el.textContent.replace(/\s+/g, " ");
    const ticks = "`".repeat(Math.max(0, ...(code.match(/`+/g) || []).map((run) => run.length)) + 1);
    out.emit(`${ticks}${code}${ticks}`, { raw: true });
    return;
  }
  if (tag === "UL" || tag === "OL") {
    out.requestBreak(ctx.listDepth ? 1 : 2);
    let index = Number(el.getAttribute("start")) || 1;
    for (const item of el.children) {
      if (item.tagName !== "LI" || item.matches(ctx.skip)) continue;
      out.requestBreak(1);
      const marker = tag === "OL" ? `${index}. ` : "- ";
      out.emit("  ".repeat(ctx.listDepth) + marker, { raw: true });
      out.atLineStart = true; // so the item's own leading whitespace is dropped
      out.afterMarker = true;
      for (const child of item.childNodes) walk(child, out, { ...childCtx, listDepth: ctx.listDepth + 1 });
      index += 1;
    }
    out.requestBreak(ctx.listDepth ? 1 : 2);
    return;
  }
  if (tag === "TD" || tag === "TH") {
    if (el.previousElementSibling) out.emit(" | ", { raw: true });
    for (const child of el.childNodes) walk(child, out, childCtx);
    return;
  }
  // Inside a list, paragraphs are lines: "<li><p>..</p></li>" must not spread items apart.
  const para = PARAGRAPH_TAGS.has(tag) && !ctx.listDepth;
  const line = !para && (LINE_TAGS.has(tag) || PARAGRAPH_TAGS.has(tag) || tag === "LI");
  if (para) out.requestBreak(2);
  else if (line) out.requestBreak(1);
  if (/^H[1-6]$/.test(tag) && ctx.headings !== false) {
    out.emit("#".repeat(Number(tag[1])) + " ", { raw: true });
  }
  for (const child of el.childNodes) walk(child, out, childCtx);
  if (para) out.requestBreak(2);
  else if (line) out.requestBreak(1);
}

// A code block's language label often sits beside its <pre> ("javascript" above the code); it is already in
// the fence, so it is dropped when it repeats the code's language.
function isCodeLabel(el, ctx) {
  if (el.tagName === "PRE" || el.tagName === "CODE" || (el.textContent || "").length > 40) return false;
  // Labels sit right before the code (at most a toolbar between): look two siblings ahead, no further, so
  // long lists and paragraphs stay linear.
  let pre = null;
  for (let sib = el.nextElementSibling, i = 0; sib && !pre && i < 2; sib = sib.nextElementSibling, i += 1) {
    pre = sib.tagName === "PRE" ? sib : sib.querySelector("pre");
  }
  if (!pre) return false;
  const lang = codeLanguage(pre, pre.querySelector("code")) || (ctx.codeLanguage ? ctx.codeLanguage(pre) || "" : "");
  if (!lang) return false;
  const label = extractText(el, { skip: ctx.skip });
  return !!label && label.toLowerCase() === lang.trim().split(/\s/)[0].toLowerCase();
}

function emitCodeBlock(el, out, ctx) {
  const pre = el.tagName === "PRE" ? el : el.querySelector("pre") || el;
  const code = pre.querySelector("code") || pre;
  // Site headers inside <pre> (language label, "Copy code") sit outside <code>; when there is no <code>
  // we still drop the chrome.
  let body = code.textContent;
  if (code === pre) {
    const inner = new TextBuilder();
    for (const child of pre.childNodes) walk(child, inner, { ...ctx, pre: true, isRoot: false, listDepth: 0 });
    body = inner.parts.join("");
  }
  const text = body.replace(/\u00a0/g, " ").replace(/\n+$/, "");
  const fence = fenceFor(text);
  let lang = codeLanguage(pre, code === pre ? null : code);
  if (!lang && ctx.codeLanguage) lang = (ctx.codeLanguage(pre) || "").trim().split(/\s/)[0].toLowerCase();
  if (!lang && el.tagName === "CODE-BLOCK") {
    const label = el.querySelector("[data-language], .code-block-decoration span, .code-block-decoration");
    if (label) lang = (label.getAttribute("data-language") || label.textContent || "").trim().split(/\s/)[0].toLowerCase();
  }
  out.requestBreak(2);
  out.emit(`${fence}${lang}\n${text}\n${fence}`, { raw: true });
  out.requestBreak(2);
}

/** First element matching any selector in the list (in list order: primary strategy first). */
export function first(root, selectors) {
  if (!root) return null;
  for (const sel of selectors) {
    try {
      const el = root.querySelector(sel);
      if (el) return el;
    } catch {
      // An invalid selector (e.g. from user configuration) must not break capture.
    }
  }
  return null;
}

/** All elements matching the first selector in the list that matches anything. */
export function all(root, selectors) {
  if (!root) return [];
  for (const sel of selectors) {
    try {
      const found = root.querySelectorAll(sel);
      if (found.length) return Array.from(found);
    } catch {
      // ignore invalid selectors
    }
  }
  return [];
}

/** Drops elements nested inside an earlier element of the list (keeps the outermost). Expects document
 * order, as querySelectorAll gives, so one pass suffices: a descendant always follows its ancestor. */
export function outermost(elements) {
  const kept = [];
  let top = null;
  for (const el of elements) {
    if (top && top.contains(el)) continue;
    kept.push(el);
    top = el;
  }
  return kept;
}

export function toUrl(loc) {
  if (!loc) return null;
  try {
    return new URL(typeof loc === "string" ? loc : loc.href);
  } catch {
    return null;
  }
}

/** Path segment following `marker`, e.g. pathSegmentAfter(url, "c") for /c/<id>. */
export function pathSegmentAfter(url, marker) {
  const parts = url.pathname.split("/").filter(Boolean);
  const i = parts.lastIndexOf(marker);
  return i >= 0 && parts[i + 1] ? decodeURIComponent(parts[i + 1]) : null;
}

/** A page title without the site's own suffix ("Foo - Claude" -> "Foo"); empty/generic titles -> "". */
export function cleanTitle(title, siteNames = []) {
  let t = (title || "").replace(/\s+/g, " ").trim();
  for (const name of siteNames) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    t = t.replace(new RegExp(`\\s*[|–—·•-]\\s*${escaped}\\s*$`, "i"), "")
      .replace(new RegExp(`^${escaped}\\s*[|–—·•-]\\s*`, "i"), "");
    if (t.toLowerCase() === name.toLowerCase()) t = "";
  }
  return t;
}

export function textOf(el) {
  return el ? (el.textContent || "").replace(/\s+/g, " ").trim() : "";
}

/** A visible stop/cancel control means an answer is still being generated. */
export function hasStopButton(doc, extra = []) {
  return !!first(doc, [
    ...extra,
    "button[data-testid='stop-button']",
    "button[aria-label^='Stop' i]",
    "[role='button'][aria-label^='Stop' i]",
  ]);
}

/** The control that sends a composer's text: the first selector match, else the last button-like control
 * in the composer's own form or box (sites without test ids or labels on it, e.g. DeepSeek). */
export function sendButtonNear(doc, element, selectors = []) {
  const direct = first(doc, selectors);
  if (direct || !element) return direct;
  let box = element.closest("form");
  for (let up = element.parentElement, i = 0; !box && up && i < 5; up = up.parentElement, i += 1) {
    if (up.querySelector("button, [role='button']")) box = up;
  }
  if (!box) return null;
  const controls = box.querySelectorAll("button, [role='button']");
  return controls.length ? controls[controls.length - 1] : null;
}

/** The kind of editor behind a composer element, judged by the marks each editor library leaves. */
export function composerKind(el) {
  if (!el) return null;
  if (el.tagName === "TEXTAREA" || el.tagName === "INPUT") return "textarea";
  if (el.getAttribute("data-lexical-editor") === "true") return "lexical";
  if (el.classList.contains("ql-editor")) return "quill";
  if (el.classList.contains("ProseMirror") || el.classList.contains("tiptap")) return "prosemirror";
  if (el.isContentEditable || el.getAttribute("contenteditable") === "true") return "contenteditable";
  return null;
}

/** Builds a composer() result, or null when the element is missing or not an editor. */
export function composerResult(element, sendButton) {
  const kind = composerKind(element);
  if (!kind) return null;
  return { element, kind, sendButton: sendButton || null };
}

/** Normalised message list: drops empty texts, keeps the id only when the site provides one. */
export function message(role, text, id) {
  const m = { role, text };
  if (id) m.id = String(id);
  return m;
}

export function finish(provider, id, title, url, messages, streaming) {
  const kept = messages.filter((m) => m && m.text);
  if (!id || !kept.length) return null;
  return {
    conversation: { provider, id: String(id), title: title || "", url: url.href },
    messages: kept,
    streaming: !!streaming,
  };
}

/** Runs an adapter function and turns any exception into null: a site redesign must never throw into
 * the content script. */
export function safely(fn) {
  return (...args) => {
    try {
      return fn(...args);
    } catch (error) {
      // Set in a debugging session to see why an adapter gave up; never set in normal use.
      if (globalThis.__satchelAdapterDebug) console.error(error);
      return null;
    }
  };
}
