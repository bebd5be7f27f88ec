// Satchel's background: the message table, the native client and the capture queue.
// Every listener is registered synchronously at top level (an MV3 worker or event page may be
// woken by any of them); handlers await `ready`; anything that must survive lives in storage.
import { api } from "../common/api.js";
import { applyRedactions, compileRedactions, loadSettings, saveSettings, SETTINGS_KEY } from "../common/settings.js";
import { HostError, NativeClient } from "./native.js";
import { CaptureQueue } from "./queue.js";
import { CUSTOM_SCRIPT_ID, CONTENT_SCRIPT_FILES, syncCustomSiteScripts } from "./custom_sites.js";

const FLUSH_ALARM = "satchel-flush";
const COMMAND_GRANT_MS = 30000;
const CONTEXT_RATE = { windowMs: 60000, max: 20 }; // per tab: a page cannot farm the vault

let settings = null;
let compiledRedactions = [];
const tabReports = new Map(); // tabId -> what the content script last reported (adapter, state, counts)
const commandGrants = new Map(); // tabId -> {nonce, expires}: a keyboard shortcut the browser delivered
const contextCalls = new Map(); // tabId -> [timestamps]

const client = new NativeClient({ onStateChange: (status) => onHostState(status) });
const queue = new CaptureQueue({
  send: (payload) => client.call("capture", payload),
  onChange: () => updateBadge(),
});

async function init() {
  settings = await loadSettings();
  compiledRedactions = compileRedactions(settings.redactions);
  await updateBadge();
  syncCustomSiteScripts(settings.customSites).catch((e) => console.warn("satchel: custom sites", e));
  if ((await queue.length()) > 0) flushSoon();
}
const ready = init();

// ---- badge -------------------------------------------------------------------------------
async function updateBadge() {
  try {
    const n = await queue.length();
    const incompatible = client.state === "incompatible";
    const text = incompatible ? "!" : n > 0 ? (n > 999 ? "999+" : String(n)) : "";
    await api.action.setBadgeText({ text });
    await api.action.setBadgeBackgroundColor({ color: incompatible ? "#b00020" : "#8a5a00" });
    const title = incompatible
      ? `Satchel: ${client.lastError}`
      : n > 0
        ? `Satchel: ${n} capture${n === 1 ? "" : "s"} waiting for the host`
        : "Satchel";
    await api.action.setTitle({ title });
  } catch (e) {
    console.warn("satchel: badge", e);
  }
}

// ---- delivery ------------------------------------------------------------------------------
// Level-triggered: whenever the host comes or goes, look at the backlog and act on it, so no chain
// of callbacks has to survive for a capture to be delivered.
async function onHostState(status) {
  updateBadge();
  try {
    if (status.state === "ready") {
      if ((await queue.length()) > 0) flushSoon();
    } else if (status.state === "unavailable") {
      if ((await queue.length()) > 0) client.scheduleReconnect();
    }
  } catch (e) {
    console.warn("satchel: host state", e);
  }
}

async function flushSoon() {
  const result = await queue.flush();
  if (result.remaining > 0) {
    client.scheduleReconnect();
    // Timers die with an idle worker; the alarm (30 s is Chromium's minimum) wakes it to try again.
    api.alarms.create(FLUSH_ALARM, { periodInMinutes: 0.5 });
  } else {
    api.alarms.clear(FLUSH_ALARM);
  }
  return result;
}

// ---- sender tiers --------------------------------------------------------------------------
// "page": an extension page (popup, options); "content": our content script in a web page.
// Web pages themselves cannot reach this table: there is no externally_connectable.
function tierOf(sender) {
  if (!sender || sender.id !== api.runtime.id) return null;
  const base = api.runtime.getURL("");
  const url = sender.url ?? "";
  if (url.startsWith(base)) return "page";
  if (sender.tab && sender.tab.id !== undefined) return "content";
  return null;
}

function fail(code, message) {
  throw new HostError(code, message);
}

function siteEnabled(siteId) {
  return !settings.paused && !settings.disabledSites.includes(siteId);
}

function rateLimited(tabId) {
  const now = Date.now();
  const recent = (contextCalls.get(tabId) ?? []).filter((t) => now - t < CONTEXT_RATE.windowMs);
  recent.push(now);
  contextCalls.set(tabId, recent);
  return recent.length > CONTEXT_RATE.max;
}

function asString(v, max = 100000) {
  return typeof v === "string" ? v.slice(0, max) : "";
}

// First install: show the options page, whose diagnostics tell whether the host is set up. At browser
// start the first window may not be ready yet, so try a few times.
async function openWelcome(attempts) {
  try {
    await api.tabs.create({ url: api.runtime.getURL("options/options.html?welcome=1") });
  } catch (e) {
    if (attempts > 1) setTimeout(() => openWelcome(attempts - 1), 1500);
    else console.warn("satchel: could not open the welcome page", e);
  }
}

// ---- the message table: action -> {tier, handler(sender, args)} ------------------------------
const HANDLERS = {
  // Content scripts: what a page's own script could at worst use to write, never to read.
  "content.config": {
    tier: "content",
    handler: async (sender) => ({
      paused: settings.paused,
      disabledSites: settings.disabledSites,
      customSites: settings.customSites,
      privateWindow: !!sender.tab?.incognito,
      captureAllowed: !sender.tab?.incognito || settings.capturePrivate,
    }),
  },
  capture: {
    tier: "content",
    handler: async (sender, args) => {
      const conv = args?.conversation;
      const messages = Array.isArray(args?.messages) ? args.messages : [];
      if (!conv || typeof conv.provider !== "string" || typeof conv.id !== "string") {
        fail("invalid_params", "capture needs conversation.provider and conversation.id");
      }
      if (sender.tab?.incognito && !settings.capturePrivate) fail("forbidden", "Private windows are not captured.");
      if (!siteEnabled(args.site ?? conv.provider)) fail("forbidden", "Capture is off for this site.");
      const payload = {
        conversation: {
          provider: asString(conv.provider, 100),
          id: asString(conv.id, 500),
          ...(conv.title ? { title: asString(conv.title, 1000) } : {}),
          ...(conv.url ? { url: asString(conv.url, 2000) } : {}),
        },
        messages: messages
          .filter((m) => m && typeof m.text === "string" && m.text.trim() && typeof m.role === "string")
          .map((m) => ({
            ...(m.id ? { id: asString(String(m.id), 500) } : {}),
            role: m.role,
            text: applyRedactions(m.text, compiledRedactions),
            ...(m.created_at ? { created_at: asString(m.created_at, 64) } : {}),
          })),
      };
      if (!payload.messages.length) return { queued: 0, backlog: await queue.length() };
      const backlog = await queue.enqueue(payload);
      flushSoon();
      return { queued: payload.messages.length, backlog };
    },
  },
  context: {
    tier: "content",
    handler: async (sender, args) => {
      const tabId = sender.tab.id;
      const gesture = args?.gesture ?? {};
      if (gesture.kind === "command") {
        const grant = commandGrants.get(tabId);
        if (!grant || grant.nonce !== gesture.nonce || grant.expires < Date.now()) {
          fail("forbidden", "Context is given only after a click or the keyboard shortcut.");
        }
        commandGrants.delete(tabId);
      } else if (gesture.kind !== "click") {
        fail("forbidden", "Context is given only after a click or the keyboard shortcut.");
      }
      if (rateLimited(tabId)) fail("forbidden", "Too many context requests from this tab; wait a minute.");
      const params = { prompt: asString(args.prompt, 20000), budget_tokens: settings.budgetTokens };
      if (args.exclude?.provider && args.exclude?.id) {
        params.exclude = { provider: asString(args.exclude.provider, 100), id: asString(args.exclude.id, 500) };
      }
      return client.call("context", params);
    },
  },
  "tab.report": {
    tier: "content",
    handler: async (sender, args) => {
      tabReports.set(sender.tab.id, { ...args, url: sender.tab.url, at: Date.now() });
      return {};
    },
  },

  // Extension pages only: everything that reads or deletes the vault.
  "host.status": {
    tier: "page",
    handler: async (_sender, args) => {
      if (args?.connect && client.state !== "ready") await client.connect().catch(() => {});
      const status = client.status();
      let stats = null;
      if (status.state === "ready") stats = await client.call("stats", {}, { timeoutMs: 5000 }).catch(() => null);
      return {
        ...status,
        stats,
        queue: { length: await queue.length(), flushing: !!queue.flushing, ...(await queue.stats()) },
        extensionVersion: api.runtime.getManifest().version,
      };
    },
  },
  "host.reconnect": {
    tier: "page",
    handler: async () => {
      client.reset();
      await client.connect().catch(() => {});
      await flushSoon();
      return client.status();
    },
  },
  "queue.flush": { tier: "page", handler: async () => flushSoon() },
  search: { tier: "page", handler: async (_s, args) => client.call("search", args ?? {}) },
  "conversations.list": { tier: "page", handler: async (_s, args) => client.call("conversations.list", args ?? {}) },
  forget: { tier: "page", handler: async (_s, args) => client.call("forget", args ?? {}) },
  stats: { tier: "page", handler: async () => client.call("stats", {}) },
  "settings.get": { tier: "page", handler: async () => settings },
  "settings.set": {
    tier: "page",
    handler: async (_s, args) => {
      settings = await saveSettings(args ?? {});
      return settings;
    },
  },
  "tab.info": {
    tier: "page",
    handler: async (_s, args) => {
      const tabId = args?.tabId;
      return { report: tabReports.get(tabId) ?? null };
    },
  },
  "tab.insert": {
    tier: "page",
    handler: async (_s, args) => {
      if (typeof args?.tabId !== "number" || typeof args?.text !== "string") fail("invalid_params", "tabId and text");
      return api.tabs.sendMessage(args.tabId, { action: "insert", text: args.text });
    },
  },
  diagnostics: {
    tier: "page",
    handler: async () => ({
      status: client.status(),
      queue: { length: await queue.length(), ...(await queue.stats()) },
      manifest: { version: api.runtime.getManifest().version, id: api.runtime.id },
      customScript: CUSTOM_SCRIPT_ID,
      contentScripts: CONTENT_SCRIPT_FILES,
    }),
  },
  "debug.roundtrip": {
    // The popup's diagnostics and the e2e tests time a hello through the live port.
    tier: "page",
    handler: async (_s, args) => {
      const n = Math.min(Math.max(Number(args?.n) || 20, 1), 500);
      await client.connect();
      const times = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await client.call("hello", {});
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      return { n, medianMs: times[Math.floor(n / 2)], p95Ms: times[Math.floor(n * 0.95)] };
    },
  },
};

function dispatch(message, sender) {
  return (async () => {
    await ready;
    const action = typeof message?.action === "string" ? message.action : "";
    const entry = Object.hasOwn(HANDLERS, action) ? HANDLERS[action] : null;
    if (!entry) fail("unknown_action", `unknown action "${action}"`);
    const tier = tierOf(sender);
    if (!tier || (entry.tier === "page" && tier !== "page")) fail("forbidden", `"${action}" is not allowed from here`);
    return entry.handler(sender, message.args ?? {});
  })().then(
    (data) => ({ ok: true, data: data ?? {} }),
    (e) => ({ ok: false, error: { code: e?.code ?? "internal", message: String(e?.message ?? e) } }),
  );
}

api.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (!message || typeof message.action !== "string") return false;
  dispatch(message, sender).then(sendResponse);
  return true; // the reply comes asynchronously
});

api.commands.onCommand.addListener(async (command, tab) => {
  if (command !== "inject-context") return;
  await ready;
  const target = tab ?? (await api.tabs.query({ active: true, currentWindow: true }))[0];
  if (!target?.id) return;
  const nonce = crypto.randomUUID();
  commandGrants.set(target.id, { nonce, expires: Date.now() + COMMAND_GRANT_MS });
  api.tabs.sendMessage(target.id, { action: "inject.open", nonce }).catch(() => {});
});

api.storage.onChanged.addListener(async (changes, area) => {
  if (area !== "local" || !changes[SETTINGS_KEY]) return;
  await ready;
  settings = await loadSettings();
  compiledRedactions = compileRedactions(settings.redactions);
  syncCustomSiteScripts(settings.customSites).catch((e) => console.warn("satchel: custom sites", e));
});

api.alarms.onAlarm.addListener(async (alarm) => {
  if (alarm.name !== FLUSH_ALARM) return;
  await ready;
  flushSoon();
});

api.tabs.onRemoved.addListener((tabId) => {
  tabReports.delete(tabId);
  commandGrants.delete(tabId);
  contextCalls.delete(tabId);
});

api.runtime.onStartup.addListener(() => ready.then(() => flushSoon()));
api.runtime.onInstalled.addListener(({ reason }) => {
  ready.then(() => updateBadge());
  if (reason === "install") setTimeout(() => openWelcome(3), 500);
});
