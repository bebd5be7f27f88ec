// The capture loop: watch the page (throttled), ask the site's adapter for the conversation,
// wait for a streamed answer to finish, and send the thread only when a turn is new or changed.
"use strict";

Satchel.CaptureLoop = class CaptureLoop {
  constructor(adapter, { throttleMs = 1000, streamingRetryMs = 1200 } = {}) {
    this.adapter = adapter;
    this.throttleMs = throttleMs;
    this.streamingRetryMs = streamingRetryMs;
    this.sent = new Set(); // content hashes of turns the background has accepted
    this.timer = null;
    this.observer = null;
    this.running = false;
    this.busy = false;
    this.lastReport = "";
    this.stats = { sentTurns: 0, lastSentAt: null };
  }

  start() {
    if (this.running) return;
    this.running = true;
    // One observer; its callback only arms a timer, so bursts of mutations cost one pass.
    this.observer = new MutationObserver(() => this.schedule());
    this.observer.observe(document.documentElement, { childList: true, subtree: true, characterData: true });
    this.schedule(300);
  }

  stop(state = "disabled") {
    this.running = false;
    this.observer?.disconnect();
    this.observer = null;
    clearTimeout(this.timer);
    this.timer = null;
    this.report({ state });
  }

  schedule(delay = this.throttleMs) {
    if (!this.running || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const run = () => this.tick().catch((e) => Satchel.log("capture tick", e));
      // Extraction reads layout-free DOM (text, attributes), but yield to the page first.
      if (typeof requestIdleCallback === "function") requestIdleCallback(run, { timeout: 1000 });
      else run();
    }, delay);
  }

  async tick() {
    if (!this.running || this.busy) return;
    this.busy = true;
    try {
      let result = null;
      try {
        result = this.adapter.extract(document, location);
      } catch (e) {
        this.report({ state: "error", error: String(e?.message ?? e) });
        return;
      }
      if (!result || !result.conversation || !Array.isArray(result.messages) || !result.messages.length) {
        this.report({ state: "no-conversation" });
        return;
      }
      if (result.streaming) {
        this.report({ state: "streaming", conversation: result.conversation });
        this.schedule(this.streamingRetryMs); // the observer may go quiet between tokens
        return;
      }
      const conv = result.conversation;
      const convKey = `${conv.provider}\u0000${conv.id}`;
      const visible = result.messages.filter((m) => m && typeof m.text === "string" && m.text.trim());
      const keys = visible.map((m) => Satchel.hash(`${convKey}\u0000${m.id ?? ""}\u0000${m.role}\u0000${m.text}`));
      if (keys.some((k) => !this.sent.has(k))) {
        // Something is new: send the whole visible thread. The host writes only what changed (content
        // hashes), and it needs the neighbours to place a turn the site gave no id.
        try {
          await Satchel.send("capture", { site: this.adapter.id, conversation: conv, messages: visible });
          const fresh = keys.filter((k) => !this.sent.has(k)).length;
          for (const k of keys) this.sent.add(k);
          this.stats.sentTurns += fresh;
          this.stats.lastSentAt = Date.now();
        } catch (e) {
          if (e.code === "forbidden") {
            this.stop("disabled");
            return;
          }
          this.report({ state: "error", error: String(e?.message ?? e), conversation: conv });
          this.schedule(5000);
          return;
        }
      }
      this.report({ state: "capturing", conversation: conv, messages: result.messages.length });
    } finally {
      this.busy = false;
    }
  }

  report(fields) {
    const body = { site: this.adapter.id, label: this.adapter.label, ...this.stats, ...fields };
    const key = JSON.stringify(body);
    if (key === this.lastReport) return;
    this.lastReport = key;
    Satchel.send("tab.report", body).catch(() => {});
  }
};
