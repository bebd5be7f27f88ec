// A hostile chat page: it tries every way we know to get Satchel's context without the person.
// Runs in the page's own world, before Satchel's content script (document_idle) starts.
(() => {
  // Built at run time so the page source itself does not contain it.
  const CANARY = ["ZEBRA", "ORCHID", String(4400 + 71)].join("-");
  const state = (window.__hostile = { seen: [], roots: [], attempts: 0, swapped: false, tampered: 0 });
  const note = (where, text) => {
    try {
      if (text && String(text).includes(CANARY)) state.seen.push(where);
    } catch (e) {
      /* keep trying */
    }
  };

  // Keep every shadow root anyone creates, closed ones included (works only on the page's own world).
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attach.call(this, init);
    state.roots.push(root);
    return root;
  };

  // Listen to everything the extension might emit.
  window.addEventListener("message", (e) => note("message", JSON.stringify(e.data)));
  for (const type of ["paste", "beforeinput", "input", "copy", "satchel"]) {
    document.addEventListener(type, (e) => {
      note(type, e.clipboardData?.getData?.("text/plain") ?? e.data ?? JSON.stringify(e.detail ?? null));
    }, true);
  }

  // Forged requests, in every shape an extension might accept.
  const FORGED = [
    { action: "context", args: { prompt: "staging server passphrase", gesture: { kind: "click" } } },
    { action: "context", args: { prompt: "staging server passphrase", gesture: { kind: "command", nonce: "x" } } },
    { action: "search", args: { query: "passphrase" } },
    { action: "insert", text: "forged" },
    { action: "inject.open", nonce: "forged" },
    { id: "1", type: "context", params: { prompt: "staging server passphrase" } },
    { type: "satchel:context", prompt: "staging server passphrase" },
  ];
  function forge() {
    for (const message of FORGED) {
      window.postMessage(message, "*");
      document.dispatchEvent(new CustomEvent("satchel", { detail: message }));
    }
  }

  // Synthetic (untrusted) clicks and key presses on whatever Satchel put in the page.
  function poke() {
    for (const el of document.querySelectorAll("satchel-inject, satchel-preview")) {
      if (el.dataset.spoof) continue;
      el.click();
      el.dispatchEvent(new MouseEvent("click", { bubbles: true, composed: true }));
      el.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, composed: true }));
      const r = el.getBoundingClientRect();
      const target = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      target?.dispatchEvent(new MouseEvent("click", { bubbles: true, composed: true, clientX: r.left + 5, clientY: r.top + 5 }));
    }
  }

  // Tamper with the real preview: try to open its shadow root, replace its content, spoof its button.
  function tamper() {
    for (const host of document.querySelectorAll("satchel-preview:not([data-spoof])")) {
      state.tampered += 1;
      note("shadowRoot", host.shadowRoot?.innerHTML);
      try {
        host.attachShadow({ mode: "open" });
      } catch (e) {
        /* already has one */
      }
      if (!host.querySelector("button.spoof")) {
        const fake = document.createElement("button");
        fake.className = "spoof";
        fake.textContent = "Insert after my draft";
        host.append(fake);
        fake.click();
      }
    }
  }

  // A spoofed preview of the page's own making, drawn where Satchel's would be.
  function spoofPreview() {
    if (document.querySelector("satchel-preview[data-spoof]")) return;
    const fake = document.createElement("satchel-preview");
    fake.dataset.spoof = "1";
    fake.innerHTML = "<div>Context from your vault</div><button>Insert after my draft</button>";
    fake.style.cssText = "position:fixed;left:0;bottom:0;opacity:.01";
    document.body.append(fake);
  }

  // Rewrite the prompt box while Satchel prepares context (switched on by the test).
  new MutationObserver(() => {
    if (!window.__swapOnPreview || state.swapped) return;
    if (!document.querySelector("satchel-preview:not([data-spoof])")) return;
    const old = document.getElementById("prompt-textarea");
    if (!old) return;
    const evil = document.createElement("div");
    evil.id = "prompt-textarea";
    evil.className = "ProseMirror";
    evil.contentEditable = "true";
    evil.textContent = old.textContent;
    old.replaceWith(evil);
    window.__evilComposer = evil;
    window.__oldComposer = old;
    state.swapped = true;
  }).observe(document.documentElement, { childList: true, subtree: true });

  window.__scan = () => {
    note("outerHTML", document.documentElement.outerHTML);
    note("innerText", document.body?.innerText);
    note("textContent", document.documentElement.textContent);
    for (const el of document.querySelectorAll("*")) if (el.shadowRoot) note("open shadow root", el.shadowRoot.innerHTML);
    for (const root of state.roots) note("captured shadow root", root.innerHTML);
    note("selection", String(document.getSelection()));
    note("satchel globals", JSON.stringify([typeof window.Satchel, typeof window.SatchelAdapters]));
    return state.seen;
  };

  setInterval(() => {
    state.attempts += 1;
    forge();
    poke();
    tamper();
    spoofPreview();
    window.__scan();
  }, 200);
})();
