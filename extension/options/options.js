// The options page: per-site switches, the person's own sites, context budget, redaction,
// private windows and host diagnostics. Settings go through the background's message table.
import { api } from "../common/api.js";
import { sendMessage } from "../common/messaging.js";
import { ADAPTERS, originPattern } from "../adapters/index.js";

const $ = (id) => document.getElementById(id);
let settings = null;

function flash(text) {
  $("saved").textContent = text;
  setTimeout(() => {
    if ($("saved").textContent === text) $("saved").textContent = "";
  }, 2000);
}

async function save(patch, note = "Saved") {
  settings = await sendMessage("settings.set", patch);
  flash(note);
}

function renderSites() {
  const box = $("sites");
  box.replaceChildren();
  for (const adapter of ADAPTERS) {
    if (!adapter.matches.length) continue; // self-hosted adapters are added as custom sites
    const input = document.createElement("input");
    input.type = "checkbox";
    input.checked = !settings.disabledSites.includes(adapter.id);
    input.dataset.site = adapter.id;
    input.addEventListener("change", () => {
      const disabled = new Set(settings.disabledSites);
      if (input.checked) disabled.delete(adapter.id);
      else disabled.add(adapter.id);
      save({ disabledSites: [...disabled] });
    });
    const label = document.createElement("label");
    label.className = "row";
    label.append(input, ` ${adapter.label}`);
    box.append(label);
  }
}

function renderCustom() {
  const list = $("custom-list");
  list.replaceChildren();
  settings.customSites.forEach((site, i) => {
    const li = document.createElement("li");
    const kind = site.adapter ? "Open WebUI" : "selectors";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.addEventListener("click", async () => {
      const next = settings.customSites.filter((_, j) => j !== i);
      await save({ customSites: next }, "Site removed");
      api.permissions.remove({ origins: [originPattern(site.origin)] }).catch(() => {});
      renderCustom();
    });
    li.append(`${site.label || site.origin} (${site.origin}, ${kind})`, remove);
    list.append(li);
  });
}

$("custom-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const err = $("custom-error");
  err.textContent = "";
  let origin;
  try {
    const url = new URL(String(form.get("origin")).trim());
    if (!/^https?:$/.test(url.protocol)) throw new Error("http or https only");
    origin = url.origin;
  } catch (ex) {
    err.textContent = `Not an origin: ${ex.message}`;
    return;
  }
  const site = { id: `custom:${origin}`, origin, label: String(form.get("label") || "").trim() || origin };
  if (form.get("kind") === "openwebui") {
    site.adapter = "openwebui";
  } else {
    site.selectors = {};
    for (const key of ["turn", "user", "assistant", "title", "composer", "sendButton", "streaming"]) {
      const value = String(form.get(key) || "").trim();
      if (!value) continue;
      try {
        document.createDocumentFragment().querySelector(value);
      } catch {
        err.textContent = `"${value}" is not a valid CSS selector (${key}).`;
        return;
      }
      site.selectors[key] = value;
    }
    if (!site.selectors.turn) {
      err.textContent = "Custom selectors need at least a turn selector.";
      return;
    }
  }
  // permissions.request must run in the click's own task: no await before it.
  api.permissions.request({ origins: [originPattern(origin)] }).then(async (granted) => {
    if (!granted) {
      err.textContent = "Access to that origin was not granted.";
      return;
    }
    const next = [...settings.customSites.filter((s) => s.origin !== origin), site];
    await save({ customSites: next }, "Site added");
    e.target.reset();
    renderCustom();
  }, (ex) => {
    err.textContent = ex.message;
  });
});

$("paused").addEventListener("change", (e) => save({ paused: e.target.checked }));
$("capture-private").addEventListener("change", (e) => save({ capturePrivate: e.target.checked }));
$("budget").addEventListener("change", (e) => {
  const n = Math.round(Number(e.target.value));
  if (n >= 100 && n <= 8000) save({ budgetTokens: n });
});

$("save-redactions").addEventListener("click", () => {
  const lines = $("redactions").value.split("\n").map((l) => l.trim()).filter(Boolean);
  const bad = [];
  for (const line of lines) {
    try {
      new RegExp(line, "g"); // eslint-disable-line no-new
    } catch (ex) {
      bad.push(`${line}: ${ex.message}`);
    }
  }
  $("redaction-error").textContent = bad.join("\n");
  if (bad.length) return;
  save({ redactions: lines.map((pattern) => ({ pattern, flags: "g" })) }, "Redaction rules saved");
});

async function renderDiagnostics(extra = null) {
  let text;
  try {
    const diag = await sendMessage("diagnostics");
    text = JSON.stringify(extra ? { ...extra, ...diag } : diag, null, 2);
  } catch (e) {
    text = `Diagnostics unavailable: ${e.message}`;
  }
  $("diagnostics").textContent = text;
}

$("reconnect").addEventListener("click", async () => renderDiagnostics({ reconnect: await sendMessage("host.reconnect").catch((e) => e.message) }));
$("flush").addEventListener("click", async () => renderDiagnostics({ flush: await sendMessage("queue.flush").catch((e) => e.message) }));
$("roundtrip").addEventListener("click", async () =>
  renderDiagnostics({ roundTrip: await sendMessage("debug.roundtrip", { n: 50 }).catch((e) => e.message) }),
);

(async () => {
  $("welcome").hidden = new URLSearchParams(location.search).get("welcome") !== "1";
  settings = await sendMessage("settings.get");
  $("paused").checked = settings.paused;
  $("capture-private").checked = settings.capturePrivate;
  $("budget").value = settings.budgetTokens;
  $("redactions").value = settings.redactions.map((r) => r.pattern).join("\n");
  renderSites();
  renderCustom();
  await sendMessage("host.status", { connect: true }).catch(() => {});
  await renderDiagnostics();
  document.body.dataset.ready = "true";
})();
