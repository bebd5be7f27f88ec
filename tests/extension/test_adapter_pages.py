"""Site adapters, run in headless Chromium on fixture pages served at each site's real URL.

Each fixture reproduces a site's chat and composer markup; rich-text composers are built from the real
editor libraries (ProseMirror, Lexical, Quill) bundled by tests/extension/fixtures/_editors/build.sh.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

async_api = pytest.importorskip("playwright.async_api")

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "extension" / "fixtures"
ADAPTERS_DIR = ROOT / "extension" / "adapters"
EDITORS = FIXTURES / "_editors"
CHROMIUM = os.environ.get("SATCHEL_CHROMIUM", "/usr/bin/chromium")

FIXTURE_PREFIX = "/__satchel_fixtures__/"
ADAPTER_PREFIX = "/__satchel_adapters__/"

MANIFEST = json.loads((FIXTURES / "sites.json").read_text(encoding="utf-8"))
SITES = {site["adapter"]: site for site in MANIFEST["sites"]}
SITE_IDS = list(SITES)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css",
}


def _bundles_current() -> bool:
    sources = [p for p in EDITORS.glob("*.js")]
    for name in ("prosemirror", "lexical", "quill", "textarea"):
        bundle = EDITORS / "build" / f"{name}.js"
        if not bundle.exists():
            return False
        if any(src.stat().st_mtime > bundle.stat().st_mtime for src in sources):
            return False
    return True


class Browser:
    """One headless Chromium for the whole module, driven through Playwright's async API on a private event
    loop (request routing is several times faster there than through the sync API). The loop runs in its own
    thread, so it coexists with the sync API that the e2e tests keep running in the main thread."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="adapter-pages", daemon=True)
        self._thread.start()
        self._pw = self.run(async_api.async_playwright().start())
        self._browser = self.run(
            self._pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        )

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def open(self, url: str, page_file: str):
        context, page, errors = self.run(self.open_async(url, page_file))
        return Page(self, context, page, errors)

    async def open_async(self, url: str, page_file: str):
        """A page at `url` whose document is the fixture file; fixture assets and the adapter modules are
        served under reserved paths of the same origin; every other request fails (no network)."""
        context = await self._browser.new_context()
        page_path = FIXTURES / page_file

        async def handle(route):
            request_url = route.request.url
            path = urlsplit(request_url).path
            response = None
            if path.startswith(FIXTURE_PREFIX):
                response = _file_response(FIXTURES, path[len(FIXTURE_PREFIX) :])
            elif path.startswith(ADAPTER_PREFIX):
                response = _file_response(ADAPTERS_DIR, path[len(ADAPTER_PREFIX) :])
            elif request_url.split("#")[0] == url:
                response = {
                    "status": 200,
                    "body": page_path.read_bytes(),
                    "headers": {"content-type": "text/html; charset=utf-8"},
                }
            if response is None:
                await route.fulfill(status=404, body="not in fixture")
            else:
                await route.fulfill(**response)

        await context.route("**/*", handle)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(url)
        return context, page, errors

    def close(self):
        self.run(self._browser.close())
        self.run(self._pw.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class Page:
    def __init__(self, browser: Browser, context, page, errors):
        self._browser, self._context, self._page, self.errors = browser, context, page, errors

    def evaluate(self, script: str, arg=None):
        return self._browser.run(self._page.evaluate(script, arg))

    def type(self, text: str):
        self._browser.run(self._page.keyboard.type(text))

    def close(self):
        self._browser.run(self._context.close())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture(scope="module")
def browser():
    if not _bundles_current():
        result = subprocess.run(["bash", str(EDITORS / "build.sh")], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"building the fixture editors failed (run `npm ci` first):\n{result.stderr}")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    shared = Browser()
    yield shared
    shared.close()


def _file_response(base: Path, rel: str):
    target = (base / rel).resolve()
    if base.resolve() not in target.parents or not target.is_file():
        return None
    return {
        "status": 200,
        "body": target.read_bytes(),
        "headers": {"content-type": CONTENT_TYPES.get(target.suffix, "application/octet-stream")},
    }


# Runs in the page: loads the registry, picks the adapter for this URL, extracts and finds the composer.
# Reports exceptions instead of raising, so a throwing adapter is a clear test failure.
RUN_ADAPTER = """
async (customSites) => {
  const registry = await import(ADAPTER_BASE + 'index.js');
  const adapter = registry.adapterForUrl(location.href, customSites);
  if (!adapter) return { adapter: null };
  const before = document.documentElement.outerHTML;
  const report = { adapter: adapter.id };
  try { report.extract = adapter.extract(document, location); } catch (e) { report.threw = String(e); }
  try {
    const c = adapter.composer(document);
    report.composer = c && {
      kind: c.kind,
      isEditor: c.element === window.__composerElement,
      sendButton: !!c.sendButton,
    };
  } catch (e) { report.threw = String(e); }
  report.mutated = document.documentElement.outerHTML !== before;
  return report;
}
""".replace("ADAPTER_BASE", repr(ADAPTER_PREFIX))


def run_adapter(page, custom_sites=None):
    return page.evaluate(RUN_ADAPTER, custom_sites or [])


def expected_for(site_id: str):
    return json.loads((FIXTURES / SITES[site_id]["expected"]).read_text(encoding="utf-8"))


GARBAGE_ARGUMENTS = """async (customSites) => {
  const registry = await import(ADAPTER_BASE + 'index.js');
  const a = registry.adapterForUrl(location.href, customSites);
  const out = [];
  for (const args of [[null, null], [document, null], [document, 'not a url'], [{}, location]]) {
    try { out.push(a.extract(...args)); } catch (e) { out.push('threw: ' + e); }
  }
  try { out.push(a.composer(null)); } catch (e) { out.push('threw: ' + e); }
  return out;
}""".replace("ADAPTER_BASE", repr(ADAPTER_PREFIX))

SEND_ENABLED = """async (customSites) => {
  const registry = await import(ADAPTER_BASE + 'index.js');
  const b = registry.adapterForUrl(location.href, customSites).composer(document).sendButton;
  return !!b && !b.disabled && b.getAttribute('aria-disabled') !== 'true';
}""".replace("ADAPTER_BASE", repr(ADAPTER_PREFIX))

# Page changes that take away each adapter's primary markers while keeping what its fallback relies on
# (what a partial redesign looks like). Perplexity has no full fallback (see the adapter).
DEGRADE = {
    "chatgpt": "document.querySelectorAll('[data-message-author-role]')"
    ".forEach(e => e.removeAttribute('data-message-author-role'))",
    "claude": "document.querySelectorAll('.font-claude-response')"
    ".forEach(e => e.classList.remove('font-claude-response'))",
    "gemini": """document.querySelectorAll('user-query, model-response').forEach(e => {
        const d = document.createElement('div'); d.append(...e.childNodes); e.replaceWith(d); })""",
    "lechat": "document.querySelectorAll('[data-message-author-role]')"
    ".forEach(e => e.removeAttribute('data-message-author-role'))",
    "copilot": """document.querySelectorAll('[data-content]').forEach(e => {
        e.setAttribute('data-testid', e.getAttribute('data-content')); e.removeAttribute('data-content'); })""",
    "deepseek": "document.querySelectorAll('.ds-message').forEach(e => e.classList.remove('ds-message'))",
    "grok": "document.querySelectorAll('[id^=\"response-\"]').forEach(e => e.removeAttribute('id'))",
    "huggingchat": "document.querySelectorAll('[data-message-role]')"
    ".forEach(e => e.removeAttribute('data-message-role'))",
    "poe": """document.querySelectorAll('[class*="Message_"]').forEach(e => { e.className = e.className
        .replace(/Message_rightSideMessageBubble/g, 'Message_humanMessageBubble')
        .replace(/Message_leftSideMessageBubble/g, 'Message_botMessageBubble'); })""",
    "openwebui": "document.querySelectorAll('[id^=\"message-\"]').forEach(e => e.removeAttribute('id'))",
}


async def _site_report(browser: Browser, site_id: str) -> dict:
    """Everything the per-site tests check, for one site: on the main fixture the adapter run, garbage
    arguments, typing into the composer, then the fallback run on a degraded page (each step changes the
    page more, so they run in this order); plus the streaming variant and the redesigned page."""
    site = SITES[site_id]
    custom_sites = site.get("custom_sites") or []
    report: dict = {}

    context, page, errors = await browser.open_async(site["url"], site["page"])
    try:
        report["main"] = await page.evaluate(RUN_ADAPTER, custom_sites)
        report["garbage"] = await page.evaluate(GARBAGE_ARGUMENTS, custom_sites)
        report["send_enabled_before"] = await page.evaluate(SEND_ENABLED, custom_sites)
        await page.evaluate("() => window.__composerElement.focus()")
        await page.keyboard.type("héllo wörld")
        report["typed_state"] = await page.evaluate("() => window.__composerState()")
        report["send_enabled_after"] = await page.evaluate(SEND_ENABLED, custom_sites)
        report["page_errors"] = list(errors)
        if site_id in DEGRADE:
            await page.evaluate(f"() => {{ {DEGRADE[site_id]}; }}")
            report["degraded"] = await page.evaluate(RUN_ADAPTER, custom_sites)
    finally:
        await context.close()

    for key, page_file in (("streaming", site["streaming_page"]), ("changed", MANIFEST["changed"]["page"])):
        context, page, _ = await browser.open_async(site["url"], page_file)
        try:
            report[key] = await page.evaluate(RUN_ADAPTER, custom_sites)
        finally:
            await context.close()
    return report


@pytest.fixture(scope="module")
def reports(browser) -> dict:
    """Per-site reports, gathered for all sites at once (a few pages in flight) to keep the module fast."""
    limit = asyncio.Semaphore(4)

    async def one(site_id):
        async with limit:
            return site_id, await _site_report(browser, site_id)

    async def everything():
        return dict(await asyncio.gather(*(one(site_id) for site_id in SITE_IDS)))

    return browser.run(everything())


@pytest.mark.parametrize("site_id", SITE_IDS)
def test_adapter_extracts_the_fixture_conversation_exactly(reports, site_id):
    main = reports[site_id]["main"]
    assert main["adapter"] == site_id
    assert "threw" not in main
    assert main["extract"] == expected_for(site_id)
    assert main["mutated"] is False, "adapters must not change the page"
    assert reports[site_id]["page_errors"] == []


@pytest.mark.parametrize("site_id", SITE_IDS)
def test_adapter_reports_streaming_while_an_answer_is_generated(reports, site_id):
    streaming = reports[site_id]["streaming"]
    assert "threw" not in streaming
    assert streaming["extract"] is not None
    assert streaming["extract"]["streaming"] is True
    assert streaming["extract"]["messages"][0]["role"] == "user"


@pytest.mark.parametrize("site_id", SITE_IDS)
def test_composer_is_the_sites_editor_with_its_send_button(reports, site_id):
    composer = reports[site_id]["main"]["composer"]
    assert composer == {"kind": SITES[site_id]["composer"], "isEditor": True, "sendButton": True}


@pytest.mark.parametrize("site_id", SITE_IDS)
def test_fixture_composer_is_a_live_editor_that_enables_send(reports, site_id):
    """Typing goes through the editor library's own input handling: its document gets the text and the send
    button turns on, as on the real site. (Proves the fixture composers are real editors, not bare divs.)"""
    report = reports[site_id]
    assert report["send_enabled_before"] is False
    assert report["typed_state"].strip() == "héllo wörld"
    assert report["send_enabled_after"] is True


@pytest.mark.parametrize("site_id", sorted(DEGRADE))
def test_adapter_falls_back_when_its_primary_markers_are_gone(reports, site_id):
    degraded = reports[site_id]["degraded"]
    assert "threw" not in degraded
    expected = [(m["role"], m["text"]) for m in expected_for(site_id)["messages"]]
    assert [(m["role"], m["text"]) for m in degraded["extract"]["messages"]] == expected


@pytest.mark.parametrize("site_id", SITE_IDS)
def test_adapter_survives_garbage_arguments(reports, site_id):
    assert reports[site_id]["garbage"] == [None, None, None, None, None]


def test_textarea_fixture_ignores_value_set_without_the_native_setter(browser):
    """Textarea fixtures track their value like React: assigning .value and firing input changes nothing;
    the native prototype setter plus an input event does (the technique injection must use)."""
    site = SITES["deepseek"]
    with browser.open(site["url"], site["page"]) as page:
        naive = page.evaluate("""() => { const t = window.__composerElement; t.value = 'plain';
            t.dispatchEvent(new Event('input', {bubbles: true})); return window.__composerState(); }""")
        assert naive == ""
        native = page.evaluate("""() => { const t = window.__composerElement;
            Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set.call(t, 'native');
            t.dispatchEvent(new Event('input', {bubbles: true})); return window.__composerState(); }""")
        assert native == "native"


@pytest.mark.parametrize("site_id", SITE_IDS)
def test_adapter_returns_null_without_throwing_when_the_site_changed(reports, site_id):
    changed = reports[site_id]["changed"]
    assert changed["adapter"] == site_id
    assert "threw" not in changed
    assert changed["extract"] is None
    assert changed["composer"] is None


def test_custom_selectors_adapter_captures_a_generic_chat_page(browser):
    custom = MANIFEST["custom"]
    with browser.open(custom["url"], custom["page"]) as page:
        report = run_adapter(page, custom["custom_sites"])
        assert report["adapter"] == "custom:https://chat.example.org"
        expected = json.loads((FIXTURES / custom["expected"]).read_text(encoding="utf-8"))
        assert report["extract"] == expected
        assert report["composer"]["kind"] == custom["composer"]
        assert report["composer"]["sendButton"] is True
        assert report["mutated"] is False


def test_custom_adapter_with_broken_selectors_returns_null(browser):
    custom = MANIFEST["custom"]
    broken = [
        {
            **custom["custom_sites"][0],
            "selectors": {"turn": "div[[[", "user": ")", "assistant": ".nope", "composer": "##"},
        }
    ]
    with browser.open(custom["url"], custom["page"]) as page:
        report = run_adapter(page, broken)
        assert "threw" not in report
        assert report["extract"] is None
        assert report["composer"] is None


REGISTRY_PROBE = """async (cases) => {
  const registry = await import(ADAPTER_BASE + 'index.js');
  return cases.map(([url, sites]) => { const a = registry.adapterForUrl(url, sites); return a ? a.id : null; });
}""".replace("ADAPTER_BASE", repr(ADAPTER_PREFIX))


def test_adapter_for_url_routes_every_known_address(browser):
    with browser.open("https://satchel.test/", MANIFEST["changed"]["page"]) as page:
        owui = [{"origin": "http://192.168.1.20:8080", "label": "Open WebUI", "adapter": "openwebui"}]
        cases = [
            ("https://chat.openai.com/c/abc", []),
            ("https://x.com/i/grok?conversation=1890", []),
            ("https://x.com/elonmusk", []),
            ("https://huggingface.co/chat/", []),
            ("https://huggingface.co/models", []),
            ("https://perplexity.ai/search/x", []),
            ("http://192.168.1.20:8080/c/abc", owui),
            ("http://192.168.1.20:9999/c/abc", owui),
            ("https://example.com/", []),
            ("not a url", []),
        ]
        assert page.evaluate(REGISTRY_PROBE, cases) == [
            "chatgpt",
            "grok",
            None,
            "huggingchat",
            None,
            "perplexity",
            "openwebui",
            None,
            None,
            None,
        ]


MATCH_PATTERN = re.compile(r"^(\*|https?)://(\*|\*\.[^/*]+|[^/*:]+)/.*$")


def test_every_adapter_has_fixtures_and_valid_match_patterns(browser):
    with browser.open("https://satchel.test/", MANIFEST["changed"]["page"]) as page:
        adapters = page.evaluate(
            """async () => {
          const registry = await import(ADAPTER_BASE + 'index.js');
          return registry.ADAPTERS.map((a) => ({
            id: a.id, label: a.label, matches: a.matches,
            fns: typeof a.extract === 'function' && typeof a.composer === 'function',
          }));
        }""".replace("ADAPTER_BASE", repr(ADAPTER_PREFIX))
        )
    assert [a["id"] for a in adapters] == SITE_IDS
    for adapter in adapters:
        site = SITES[adapter["id"]]
        assert adapter["fns"] and adapter["label"]
        for key in ("page", "streaming_page", "expected"):
            assert (FIXTURES / site[key]).is_file(), f"{adapter['id']}: missing {site[key]}"
        for pattern in adapter["matches"]:
            assert MATCH_PATTERN.match(pattern), f"{adapter['id']}: bad match pattern {pattern}"
        if adapter["id"] == "openwebui":
            assert adapter["matches"] == [], "Open WebUI runs only on origins the user adds"
            assert site.get("custom_sites")
        else:
            assert adapter["matches"], f"{adapter['id']}: no match patterns"
        expected = expected_for(adapter["id"])
        assert expected["conversation"]["provider"] == adapter["id"]
        assert expected["conversation"]["url"] == site["url"]
        assert {m["role"] for m in expected["messages"]} == {"user", "assistant"}
        assert any("```" in m["text"] for m in expected["messages"]), f"{adapter['id']}: no code block"


PROTOCOL_SCHEMA = ROOT / "shared-schema" / "protocol" / "satchel-protocol-1.schema.json"


@pytest.mark.parametrize("name", [*SITE_IDS, "custom"])
def test_extracted_conversation_is_a_valid_capture_request(name):
    """What an adapter extracts goes to the host as `capture` params unchanged (streaming aside)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(PROTOCOL_SCHEMA.read_text(encoding="utf-8"))
    expected_file = MANIFEST["custom"]["expected"] if name == "custom" else SITES[name]["expected"]
    extracted = json.loads((FIXTURES / expected_file).read_text(encoding="utf-8"))
    params = {"conversation": extracted["conversation"], "messages": extracted["messages"]}
    validator = jsonschema.Draft202012Validator({**schema, "$ref": "#/$defs/capture.params"})
    assert list(validator.iter_errors(params)) == []
