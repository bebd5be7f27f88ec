// Putting text into a site's prompt box the way its editor registers it: a textarea needs the
// native value setter plus an input event (frameworks track the setter); rich editors
// (ProseMirror, Lexical, Quill) listen for paste; a plain contenteditable takes insertText.
// Text always goes AFTER the person's draft, and we verify that it landed.
"use strict";

Satchel.editor = {
  read(composer) {
    const el = composer?.element;
    if (!el) return "";
    if (el instanceof HTMLTextAreaElement || el instanceof HTMLInputElement) return el.value;
    return el.innerText ?? el.textContent ?? "";
  },

  isUsable(composer) {
    const el = composer?.element;
    return !!el && el.isConnected && !el.disabled && el.getAttribute("aria-disabled") !== "true";
  },

  sendButtonEnabled(button) {
    if (!button || !button.isConnected) return null; // unknown: the adapter found no button
    return !button.disabled && button.getAttribute("aria-disabled") !== "true";
  },

  _placeCaretAtEnd(el) {
    el.focus({ preventScroll: true });
    const sel = el.ownerDocument.getSelection();
    const range = el.ownerDocument.createRange();
    range.selectNodeContents(el);
    range.collapse(false);
    sel.removeAllRanges();
    sel.addRange(range);
  },

  _landed(composer, block, before) {
    const now = Satchel.normalizeSpace(this.read(composer));
    const want = Satchel.normalizeSpace(block);
    const head = want.slice(0, 80);
    const tail = want.slice(-80);
    const draft = Satchel.normalizeSpace(before);
    // The block is there, and the draft is still in front of it.
    return now.includes(head) && now.includes(tail) && (!draft || now.indexOf(draft) <= now.indexOf(head));
  },

  async _settle() {
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  },

  _insertTextarea(el, block) {
    const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    const setter = Object.getOwnPropertyDescriptor(proto, "value").set;
    setter.call(el, el.value + block);
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
    el.setSelectionRange?.(el.value.length, el.value.length);
    el.focus({ preventScroll: true });
  },

  _paste(el, block) {
    this._placeCaretAtEnd(el);
    const data = new DataTransfer();
    data.setData("text/plain", block);
    const event = new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
    el.dispatchEvent(event);
  },

  _insertText(el, block) {
    this._placeCaretAtEnd(el);
    // Deprecated but still the one call every engine routes through beforeinput/input.
    return el.ownerDocument.execCommand("insertText", false, block);
  },

  /**
   * Insert `text` after the draft. Returns {ok, method, sendEnabled, reason?}.
   * Fails (inserting nothing more) if the prompt box is gone or rewritten.
   */
  async insertAfterDraft(composer, text) {
    const el = composer.element;
    if (!this.isUsable(composer)) return { ok: false, reason: "The prompt box is not available." };
    const before = this.read(composer);
    const separator = before.trim() ? (before.endsWith("\n") ? "\n" : "\n\n") : "";
    const block = separator + text;
    const isField = el instanceof HTMLTextAreaElement || el instanceof HTMLInputElement;
    const order = isField
      ? ["setter"]
      : composer.kind === "contenteditable"
        ? ["insertText", "paste"]
        : ["paste", "insertText"];
    for (const method of order) {
      if (!el.isConnected) return { ok: false, reason: "The prompt box was replaced during insertion." };
      const snapshot = this.read(composer);
      if (method === "setter") this._insertTextarea(el, block);
      else if (method === "paste") this._paste(el, block);
      else this._insertText(el, block);
      await this._settle();
      if (this._landed(composer, text, before)) {
        return { ok: true, method, sendEnabled: this.sendButtonEnabled(composer.sendButton) };
      }
      // Nothing (or something partial) landed: only try the next technique if the box is unchanged.
      if (this.read(composer) !== snapshot) {
        return { ok: false, method, reason: "The prompt box changed while inserting; check it before sending." };
      }
    }
    return { ok: false, reason: "The editor did not accept the text." };
  },
};
