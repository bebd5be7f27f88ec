"""The background's pure parts under node, with a fake WebExtension API: the capture queue never loses
or repeats a capture, the native client matches replies by id, times out, and refuses a too-old host,
and the inject block keeps the host's delimiters when sources are unticked."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(not NODE, reason="node is not installed")

FAKE_API = r"""
const store = {};
let connect = () => { throw new Error("no host"); };
globalThis.chrome = {
  storage: { local: {
    get: async (key) => (key in store ? { [key]: structuredClone(store[key]) } : {}),
    set: async (obj) => { for (const [k, v] of Object.entries(obj)) store[k] = structuredClone(v); },
  } },
  runtime: { connectNative: (name) => connect(name), lastError: null },
};
export function setConnect(fn) { connect = fn; }
export function fakePort(onPost) {
  const listeners = { message: [], disconnect: [] };
  const port = {
    onMessage: { addListener: (f) => listeners.message.push(f) },
    onDisconnect: { addListener: (f) => listeners.disconnect.push(f) },
    postMessage: (m) => onPost(m, port),
    disconnect: () => {},
    reply: (m) => listeners.message.forEach((f) => f(m)),
    die: () => listeners.disconnect.forEach((f) => f(port)),
  };
  return port;
}
"""


def run_node(tmp_path: Path, body: str) -> dict:
    (tmp_path / "fake_api.mjs").write_text(FAKE_API)
    script = tmp_path / "case.mjs"
    script.write_text(
        f'import {{ setConnect, fakePort }} from "./fake_api.mjs";\n'
        f'const root = new URL("{(ROOT / "extension").as_uri()}/");\n'
        "const ext = (p) => import(new URL(p, root));\n"
        f"const out = await (async () => {{\n{body}\n}})();\n"
        "console.log(JSON.stringify(out));\n"
        "process.exit(0);\n"  # background timers (reconnect backoff) would keep node alive
    )
    result = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_queue_keeps_captures_until_the_host_acknowledges_them(tmp_path):
    out = run_node(
        tmp_path,
        r"""
      const { CaptureQueue } = await ext("background/queue.js");
      let up = false;
      const delivered = [];
      const q = new CaptureQueue({ send: async (p) => {
        if (!up) throw Object.assign(new Error("down"), { code: "host_unavailable" });
        delivered.push(p);
      } });
      const conv = (id) => ({ provider: "chatgpt", id });
      await q.enqueue({ conversation: conv("a"), messages: [{ role: "user", text: "one" }] });
      await q.enqueue({ conversation: conv("b"), messages: [{ role: "user", text: "two" }] });
      const failed = await q.flush();
      // A restarted worker sees the same backlog: it lives in storage.
      const { CaptureQueue: Again } = await ext("background/queue.js");
      const reborn = new Again({ send: async (p) => delivered.push(p) });
      const before = await reborn.length();
      up = true;
      const ok = await reborn.flush();
      return { failed: [failed.delivered, failed.remaining], before, ok: [ok.delivered, ok.remaining],
               order: delivered.map((p) => p.conversation.id), again: (await reborn.flush()).delivered };
    """,
    )
    assert out == {"failed": [0, 2], "before": 2, "ok": [2, 0], "order": ["a", "b"], "again": 0}


def test_capture_arriving_while_one_is_on_the_wire_is_not_lost(tmp_path):
    out = run_node(
        tmp_path,
        r"""
      const { CaptureQueue } = await ext("background/queue.js");
      const sent = [];
      let q;
      q = new CaptureQueue({ send: async (p) => {
        sent.push(p.messages.map((m) => m.text));
        if (sent.length === 1) await q.enqueue({ conversation: { provider: "x", id: "c" }, messages: [{ role: "assistant", text: "late" }] });
      } });
      await q.enqueue({ conversation: { provider: "x", id: "c" }, messages: [{ role: "user", text: "first" }] });
      await q.flush();
      await q.flush();
      return { sent, left: await q.length() };
    """,
    )
    assert out == {"sent": [["first"], ["late"]], "left": 0}


def test_waiting_captures_of_one_conversation_merge_and_later_text_wins(tmp_path):
    out = run_node(
        tmp_path,
        r"""
      const { CaptureQueue } = await ext("background/queue.js");
      const q = new CaptureQueue({ send: async () => { throw Object.assign(new Error(), { code: "host_unavailable" }); } });
      const c = { provider: "x", id: "c" };
      await q.enqueue({ conversation: c, messages: [{ id: "m1", role: "assistant", text: "partial" }] });
      await q.enqueue({ conversation: { ...c, title: "T" }, messages: [{ id: "m1", role: "assistant", text: "partial and more" }, { id: "m2", role: "user", text: "next" }] });
      const items = await q.items();
      return { n: items.length, texts: items[0].payload.messages.map((m) => m.text), title: items[0].payload.conversation.title };
    """,
    )
    assert out == {"n": 1, "texts": ["partial and more", "next"], "title": "T"}


def test_snapshots_without_site_ids_are_kept_whole_and_in_order(tmp_path):
    out = run_node(
        tmp_path,
        r"""
      const { CaptureQueue } = await ext("background/queue.js");
      const q = new CaptureQueue({ send: async () => { throw Object.assign(new Error(), { code: "host_unavailable" }); } });
      const c = { provider: "x", id: "c" };
      await q.enqueue({ conversation: c, messages: [{ role: "user", text: "a" }] });
      await q.enqueue({ conversation: c, messages: [{ role: "user", text: "a" }, { role: "assistant", text: "b" }] });
      return (await q.items()).map((it) => it.payload.messages.map((m) => m.text));
    """,
    )
    assert out == [["a"], ["a", "b"]]


def test_a_rejected_capture_is_dropped_not_retried_forever(tmp_path):
    out = run_node(
        tmp_path,
        r"""
      const { CaptureQueue } = await ext("background/queue.js");
      const q = new CaptureQueue({ send: async (p) => {
        if (p.conversation.id === "bad") throw Object.assign(new Error("bad"), { code: "invalid_params" });
      } });
      await q.enqueue({ conversation: { provider: "x", id: "bad" }, messages: [{ role: "user", text: "?" }] });
      await q.enqueue({ conversation: { provider: "x", id: "good" }, messages: [{ role: "user", text: "!" }] });
      const r = await q.flush();
      const s = await q.stats();
      return [r.delivered, r.remaining, s.dropped, s.delivered];
    """,
    )
    assert out == [1, 0, 1, 1]


def test_native_client_matches_replies_by_id_and_times_out(tmp_path):
    out = run_node(
        tmp_path,
        r"""
      const { NativeClient } = await ext("background/native.js");
      setConnect(() => fakePort((m, port) => {
        const data = m.type === "hello" ? { host_version: "9", protocol_version: 1, min_client_protocol: 1 } : { echo: m.params.n };
        if (m.type === "slow") return;                                   // never answers
        setTimeout(() => port.reply({ id: m.id, v: 1, ok: true, data }), m.params?.n === 1 ? 20 : 1);
      }));
      const c = new NativeClient();
      const [a, b] = await Promise.all([c.call("echo", { n: 1 }), c.call("echo", { n: 2 })]);
      let timeout = null;
      try { await c.call("slow", {}, { timeoutMs: 50 }); } catch (e) { timeout = e.code; }
      return { a: a.echo, b: b.echo, timeout, state: c.state };
    """,
    )
    assert out == {"a": 1, "b": 2, "timeout": "host_timeout", "state": "ready"}


def test_too_old_host_is_refused_with_the_fix(tmp_path):
    out = run_node(
        tmp_path,
        r"""
      const { NativeClient } = await ext("background/native.js");
      setConnect(() => fakePort((m, port) => setTimeout(() => port.reply({ id: m.id, v: 0, ok: true,
        data: { host_version: "0.0.1", protocol_version: 0, min_client_protocol: 0 } }), 1)));
      const c = new NativeClient();
      try { await c.call("stats"); return { ok: true }; } catch (e) { return { code: e.code, message: e.message, state: c.state }; }
    """,
    )
    assert out["code"] == "host_incompatible" and out["state"] == "incompatible"
    assert "too old" in out["message"] and "satchel install" in out["message"]


def test_host_exit_rejects_pending_calls_instead_of_hanging(tmp_path):
    out = run_node(
        tmp_path,
        r"""
      const { NativeClient } = await ext("background/native.js");
      let live;
      setConnect(() => (live = fakePort((m, port) => {
        if (m.type === "hello") setTimeout(() => port.reply({ id: m.id, v: 1, ok: true, data: { protocol_version: 1, min_client_protocol: 1 } }), 1);
      })));
      const c = new NativeClient();
      await c.connect();
      const pending = c.call("search", { query: "x" });
      setTimeout(() => live.die(), 5);
      try { await pending; return "resolved"; } catch (e) { return { code: e.code, state: c.state }; }
    """,
    )
    assert out == {"code": "host_unavailable", "state": "unavailable"}


FORMAT = r"""
  const vm = await import("node:vm");
  const fs = await import("node:fs");
  const ctx = { console };
  ctx.globalThis = ctx;
  vm.createContext(ctx);
  for (const f of ["content/util.js", "content/inject.js"]) vm.runInContext(fs.readFileSync(new URL(f, root), "utf8"), ctx);
"""


def test_unticked_sources_leave_the_hosts_delimited_block(tmp_path):
    out = run_node(
        tmp_path,
        FORMAT
        + r"""
      const data = { text: "<ctx>\nA\n\nB\n</ctx>", open: "<ctx>", close: "</ctx>",
                     sources: [{ text: "### one\n> A", provider: "x" }, { text: "### two\n> B", provider: "y" }] };
      return { all: ctx.Satchel.formatBlock(data, [true, true]), second: ctx.Satchel.formatBlock(data, [false, true]),
               none: ctx.Satchel.formatBlock(data, [false, false]), excerpt: ctx.Satchel.excerptOf({ text: "### h\n> **me:** hi\n>\n> **assistant:** yo" }) };
    """,
    )
    assert out["all"] == "<ctx>\nA\n\nB\n</ctx>"
    assert out["second"] == "<ctx>\n### two\n> B\n</ctx>"
    assert out["none"] == ""
    assert out["excerpt"] == "me: hi\n\nassistant: yo"


ROUTER = r"""
  const listeners = {};
  const on = (name) => ({ addListener: (f) => { listeners[name] = f; } });
  const store = {};
  globalThis.chrome = {
    runtime: {
      id: "satchel-test-id", getURL: (p) => "chrome-extension://satchel-test-id/" + p,
      getManifest: () => ({ version: "0.1.0", content_scripts: [{ js: ["content/main.js"] }] }),
      onMessage: on("message"), onStartup: on("startup"), onInstalled: on("installed"),
      connectNative: () => { throw new Error("no host in this test"); }, lastError: null,
    },
    storage: { local: {
      get: async (k) => (k in store ? { [k]: structuredClone(store[k]) } : {}),
      set: async (o) => Object.assign(store, structuredClone(o)),
    }, onChanged: on("storage") },
    commands: { onCommand: on("command") }, alarms: { onAlarm: on("alarm"), create() {}, clear() {} },
    tabs: { onRemoved: on("removed"), sendMessage: async () => ({}), query: async () => [] },
    action: { setBadgeText: async () => {}, setBadgeBackgroundColor: async () => {}, setTitle: async () => {} },
    scripting: { getRegisteredContentScripts: async () => [], registerContentScripts: async () => {},
                 unregisterContentScripts: async () => {} },
    permissions: { contains: async () => false },
  };
  await import(new URL("background/main.js", root));
  const ask = (message, sender) => new Promise((resolve) => listeners.message(message, sender, resolve));
  const page = { id: "satchel-test-id", url: "chrome-extension://satchel-test-id/popup/popup.html" };
  const content = { id: "satchel-test-id", url: "https://chatgpt.com/c/1", tab: { id: 7, incognito: false } };
  const stranger = { id: "someone-else", url: "https://chatgpt.com/c/1", tab: { id: 7 } };
  const code = async (m, s) => { const r = await ask(m, s); return r.ok ? "ok" : r.error.code; };
"""


def test_message_table_gives_each_sender_only_its_tier(tmp_path):
    out = run_node(
        tmp_path,
        ROUTER
        + r"""
      return {
        contentSearch: await code({ action: "search", args: { query: "x" } }, content),
        contentList: await code({ action: "conversations.list", args: {} }, content),
        contentForget: await code({ action: "forget", args: { scope: "all" } }, content),
        contentInsert: await code({ action: "tab.insert", args: { tabId: 7, text: "x" } }, content),
        contextNoGesture: await code({ action: "context", args: { prompt: "x" } }, content),
        contextForgedNonce: await code({ action: "context", args: { prompt: "x", gesture: { kind: "command", nonce: "forged" } } }, content),
        stranger: await code({ action: "capture", args: {} }, stranger),
        unknown: await code({ action: "eval", args: {} }, page),
        pageSettings: await code({ action: "settings.get", args: {} }, page),
        contentConfig: await code({ action: "content.config", args: {} }, content),
        contentCaptureQueued: await code({ action: "capture", args: { site: "chatgpt",
          conversation: { provider: "chatgpt", id: "1" }, messages: [{ role: "user", text: "hi" }] } }, content),
        privateCapture: await code({ action: "capture", args: { site: "chatgpt",
          conversation: { provider: "chatgpt", id: "1" }, messages: [{ role: "user", text: "hi" }] } },
          { ...content, tab: { id: 8, incognito: true } }),
      };
    """,
    )
    assert out == {
        "contentSearch": "forbidden",
        "contentList": "forbidden",
        "contentForget": "forbidden",
        "contentInsert": "forbidden",
        "contextNoGesture": "forbidden",
        "contextForgedNonce": "forbidden",
        "stranger": "forbidden",
        "unknown": "unknown_action",
        "pageSettings": "ok",
        "contentConfig": "ok",
        "contentCaptureQueued": "ok",
        "privateCapture": "forbidden",
    }


def test_keyboard_command_grants_the_tab_one_context_request(tmp_path):
    out = run_node(
        tmp_path,
        ROUTER
        + r"""
      let nonce = null;
      chrome.tabs.sendMessage = async (tabId, m) => { if (tabId === 7) nonce = m.nonce; return {}; };
      await listeners.command("inject-context", { id: 7 });
      const ask1 = await ask({ action: "context", args: { prompt: "x", gesture: { kind: "command", nonce } } }, content);
      const ask2 = await ask({ action: "context", args: { prompt: "x", gesture: { kind: "command", nonce } } }, content);
      const other = await ask({ action: "context", args: { prompt: "x", gesture: { kind: "command", nonce } } },
                              { ...content, tab: { id: 9 } });
      // The first is let through to the host (absent here); the nonce is then spent.
      return [typeof nonce, ask1.error.code, ask2.error.code, other.error.code];
    """,
    )
    assert out == ["string", "host_unavailable", "forbidden", "forbidden"]
