// Content-script entry: pick the site's adapter, start capture (when allowed) and the inject
// button. Listens to the extension only (runtime messages); page postMessages are never read.
"use strict";

(function satchelMain() {
  if (globalThis.__satchelStarted) return; // manifest and run-time registration may both match
  globalThis.__satchelStarted = true;

  let loop = null;
  let injector = null;
  let adapter = null;

  function currentConversation() {
    try {
      const r = adapter?.extract(document, location);
      if (!r?.conversation) return null;
      const lastUser = [...(r.messages ?? [])].reverse().find((m) => m.role === "user");
      return { conversation: r.conversation, lastUserText: lastUser?.text };
    } catch {
      return null;
    }
  }

  async function applyConfig() {
    const config = await Satchel.send("content.config");
    if (!adapter) {
      adapter = globalThis.SatchelAdapters?.adapterForUrl(location.href, config.customSites) ?? null;
      if (!adapter) return;
      injector = new Satchel.Injector(adapter, { getConversation: currentConversation });
      // The composer comes and goes with the page's own rendering: look again on mutations, throttled.
      let pending = false;
      const refresh = () => {
        if (pending) return;
        pending = true;
        setTimeout(() => {
          pending = false;
          Satchel.guard("refresh", () => injector.refresh())();
        }, 400);
      };
      new MutationObserver(refresh).observe(document.documentElement, { childList: true, subtree: true });
      injector.refresh();
    }
    const siteOn = !config.paused && !config.disabledSites.includes(adapter.id);
    if (!config.captureAllowed) {
      loop?.stop("private");
      if (!loop) Satchel.send("tab.report", { site: adapter.id, label: adapter.label, state: "private" }).catch(() => {});
    } else if (!siteOn) {
      loop?.stop(config.paused ? "paused" : "disabled");
      loop = null;
      Satchel.send("tab.report", { site: adapter.id, label: adapter.label, state: config.paused ? "paused" : "disabled" }).catch(() => {});
    } else if (!loop?.running) {
      loop = new Satchel.CaptureLoop(adapter);
      loop.start();
    }
  }

  Satchel.api.runtime.onMessage.addListener((message, sender, sendResponse) => {
    // Only the background speaks here (sender without a tab); other tabs' content scripts cannot.
    if (sender?.id !== Satchel.api.runtime.id || sender.tab) return false;
    if (message?.action === "inject.open" && injector) {
      Satchel.guard("command", () => injector.open({ kind: "command", nonce: message.nonce }))();
      return false;
    }
    if (message?.action === "insert" && typeof message.text === "string") {
      (injector ? injector.insertFromPopup(message.text) : Promise.resolve({ ok: false, reason: "This page is not a supported chat." }))
        .then(sendResponse, (e) => sendResponse({ ok: false, reason: String(e?.message ?? e) }));
      return true;
    }
    return false;
  });

  Satchel.api.storage.onChanged.addListener(
    Satchel.guard("settings change", (changes, area) => {
      if (area === "local" && changes.settings) applyConfig().catch((e) => Satchel.log("config", e));
    }),
  );

  applyConfig().catch((e) => Satchel.log("start", e));
})();
