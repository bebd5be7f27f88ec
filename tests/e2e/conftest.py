"""Real browsers, the real extension, the real host: the harness for Satchel's end-to-end tests.

The session gets one browser per engine (`ext` is parametrized over Firefox ESR and Chromium), each with
its own temp HOME, profile and SATCHEL_HOME. The built extension (dist/) is loaded unpacked, host
manifests are written by `satchel.native.install` exactly as `satchel install` would, and every chat site
is served from tests/extension/fixtures at its real URL through Playwright request routing, so the
manifest's match patterns and the adapters run as in production.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
FIXTURES = ROOT / "tests" / "extension" / "fixtures"
EDITORS = FIXTURES / "_editors"
PAGES = Path(__file__).resolve().parent / "pages"
SCREENSHOTS = ROOT / "docs" / "screenshots"
SITES_MANIFEST = json.loads((FIXTURES / "sites.json").read_text(encoding="utf-8"))
SITES = {site["adapter"]: site for site in SITES_MANIFEST["sites"]}
ASSET_PREFIX = SITES_MANIFEST.get("asset_prefix", "/__satchel_fixtures__/")

FIREFOX_BIN = os.environ.get("SATCHEL_FIREFOX", "/usr/bin/firefox-esr")
CHROMIUM_BIN = os.environ.get("SATCHEL_CHROMIUM", "/usr/bin/chromium")
# Preset so tests know the moz-extension:// origin without asking Firefox.
FIREFOX_UUID = "3f0d8a6e-5b1c-4e7a-9d2f-6c8b1a4e7d20"
BROWSERS = ("firefox", "chromium")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css",
    ".png": "image/png",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


# ---- build once per session --------------------------------------------------------------------------
def _editor_bundles_current() -> bool:
    sources = list(EDITORS.glob("*.js"))
    for name in ("prosemirror", "lexical", "quill", "textarea"):
        bundle = EDITORS / "build" / f"{name}.js"
        if not bundle.exists() or any(s.stat().st_mtime > bundle.stat().st_mtime for s in sources):
            return False
    return True


@pytest.fixture(scope="session")
def extension_ids() -> dict[str, str]:
    subprocess.run([sys.executable, str(ROOT / "build.py")], check=True, cwd=ROOT, capture_output=True)
    if not _editor_bundles_current():
        result = subprocess.run(["bash", str(EDITORS / "build.sh")], capture_output=True, text=True)
        if result.returncode:
            pytest.skip(f"fixture editors cannot be bundled (npm ci first): {result.stderr.strip()}")
    return json.loads((DIST / "ids.json").read_text())


# ---- the harness ------------------------------------------------------------------------------------------
class Harness:
    """One running browser with Satchel loaded, a temp vault, and the fixture web."""

    def __init__(self, name: str, tmp: Path, ids: dict[str, str]) -> None:
        self.name = name
        self.tmp = tmp
        self.ids = ids
        self.home = tmp / "home"
        self.satchel_home = tmp / "vault"
        self.profile = tmp / "profile"
        for d in (self.home, self.satchel_home, self.profile):
            d.mkdir(parents=True, exist_ok=True)
        self.pages: dict[str, str | bytes] = {}  # url without query/fragment -> body
        self.opened: list = []  # pages a test opened, closed after it
        self.manifests: list[Path] = []
        self.context = None
        self._pw = None
        self._ext_page = None
        self.launch_seconds = 0.0
        self.extension_dir = {"firefox": DIST / "firefox", "chromium": DIST / "chromium"}[name]

    # -- setup
    def install_host(self) -> None:
        from satchel.native import install as host_install

        # The lead's install module names the production ids; the tests pin the ones this build made.
        host_install.CHROMIUM_EXTENSION_ID = self.ids["chromium"]
        host_install.FIREFOX_EXTENSION_ID = self.ids["firefox"]
        if self.name == "firefox":
            plan = host_install.install(self.satchel_home, ["firefox"], user_home=self.home, pin_home=True)
        else:
            plan = host_install.install(
                self.satchel_home, ["chromium"], chromium_user_data_dir=self.profile, pin_home=True
            )
        self.manifests = [t.manifest_path for t in plan.targets]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SATCHEL_")}
        env.update(
            HOME=str(self.home),
            SATCHEL_HOME=str(self.satchel_home),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "host"), os.environ.get("PYTHONPATH")])),
        )
        env.pop("SATCHEL_EMBEDDER", None)  # e2e runs the real model
        return env

    def launch(self, pw) -> None:
        self._pw = pw
        started = time.monotonic()
        if self.name == "firefox":
            ext_dir = self.profile / "extensions"
            ext_dir.mkdir(exist_ok=True)
            (ext_dir / self.ids["firefox"]).write_text(str(self.extension_dir))
            self.context = _launch_with_retry(lambda: pw.firefox.launch_persistent_context(
                str(self.profile),
                executable_path=FIREFOX_BIN,
                channel="moz-firefox",
                headless=True,
                env=self.env(),
                viewport={"width": 1200, "height": 900},
                firefox_user_prefs={
                    "xpinstall.signatures.required": False,
                    "extensions.autoDisableScopes": 0,
                    "extensions.enabledScopes": 15,
                    "extensions.webextensions.uuids": json.dumps({self.ids["firefox"]: FIREFOX_UUID}),
                    "extensions.webextOptionalPermissionPrompts": False,
                    "extensions.originControls.grantByDefault": True,
                    "browser.shell.checkDefaultBrowser": False,
                    # No outside network here: keep Firefox from waiting on services it cannot reach.
                    "app.normandy.enabled": False,
                    "messaging-system.rsexperimentloader.enabled": False,
                    "network.captive-portal-service.enabled": False,
                    "datareporting.policy.dataSubmissionEnabled": False,
                    "toolkit.telemetry.enabled": False,
                    "browser.safebrowsing.malware.enabled": False,
                    "browser.safebrowsing.phishing.enabled": False,
                },
                timeout=LAUNCH_TIMEOUT_MS,
            ))
            self.ext_base = f"moz-extension://{FIREFOX_UUID}"
        else:
            self.context = _launch_with_retry(lambda: pw.chromium.launch_persistent_context(
                str(self.profile),
                executable_path=CHROMIUM_BIN,
                headless=True,
                env=self.env(),
                viewport={"width": 1200, "height": 900},
                ignore_default_args=["--disable-extensions"],
                args=[
                    f"--disable-extensions-except={self.extension_dir}",
                    f"--load-extension={self.extension_dir}",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                ],
                timeout=LAUNCH_TIMEOUT_MS,
            ))
            self.ext_base = f"chrome-extension://{self.ids['chromium']}"
        self.context.set_default_timeout(20000)
        self.context.route(re.compile(r"^https?://"), self._serve)
        self.launch_seconds = time.monotonic() - started

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.context:
                self.context.close()
        self.context = None
        self._ext_page = None

    def stop_vault(self) -> None:
        subprocess.run([sys.executable, "-m", "satchel", "stop"], env=self.env(), capture_output=True, timeout=30)
        for proc in self.satchel_processes():
            with contextlib.suppress(Exception):
                os.kill(proc.pid, signal.SIGKILL)

    # -- the fixture web
    def _serve(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.path.startswith(ASSET_PREFIX):
            path = (FIXTURES / parts.path[len(ASSET_PREFIX) :]).resolve()
            if path.is_relative_to(FIXTURES) and path.is_file():
                route.fulfill(
                    status=200,
                    body=path.read_bytes(),
                    headers={"content-type": CONTENT_TYPES.get(path.suffix, "application/octet-stream")},
                )
                return
        key = f"{parts.scheme}://{parts.netloc}{parts.path}"
        body = self.pages.get(key)
        if body is not None:
            route.fulfill(status=200, body=body, headers={"content-type": "text/html; charset=utf-8"})
            return
        # Nothing else exists in the test web: no request ever leaves the machine.
        route.fulfill(status=404, body="not found", headers={"content-type": "text/plain"})

    def serve(self, url: str, body: str | bytes) -> str:
        parts = urlsplit(url)
        self.pages[f"{parts.scheme}://{parts.netloc}{parts.path}"] = body
        return url

    def serve_site(self, adapter: str, page: str = "page") -> str:
        site = SITES[adapter] if adapter in SITES else SITES_MANIFEST["custom"]
        return self.serve(site["url"], (FIXTURES / site[page]).read_bytes())

    def open(self, url: str):
        page = self.context.new_page()
        self.opened.append(page)
        page.goto(url, wait_until="load")
        return page

    def serve_site_as(self, adapter: str, conv_id: str, page: str = "page") -> str:
        """The fixture page of `adapter` as another conversation (its id lives in the URL)."""
        site = SITES[adapter]
        expected = json.loads((FIXTURES / site["expected"]).read_text(encoding="utf-8"))
        old_id = expected["conversation"]["id"]
        assert old_id in site["url"], f"{adapter}: conversation id is not in the URL"
        return self.serve(site["url"].replace(old_id, conv_id), (FIXTURES / site[page]).read_bytes())

    def close_opened(self) -> None:
        for page in self.opened:
            with contextlib.suppress(Exception):
                if not page.is_closed():
                    page.close()
        self.opened.clear()

    def open_site(self, adapter: str, page: str = "page"):
        return self.open(self.serve_site(adapter, page))

    # -- the extension
    def ext_url(self, path: str) -> str:
        return f"{self.ext_base}/{path}"

    def ext_page(self):
        """A tab on an extension page: the privileged tier of the message table (Chromium only).

        Playwright drives Firefox over WebDriver BiDi, which refuses to navigate to moz-extension:// URLs
        ("not allowed in this context") and does not report tabs the extension opens itself; Firefox tests
        therefore check what the extension does through the pages and the vault instead.
        """
        if self.name == "firefox":
            pytest.skip("Playwright (WebDriver BiDi) cannot open moz-extension:// pages in Firefox")
        if self._ext_page is None or self._ext_page.is_closed():
            self._ext_page = self.context.new_page()
            self._ext_page.goto(self.ext_url("options/options.html"), wait_until="load")
        return self._ext_page

    def open_ext(self, path: str):
        """Open one of the extension's pages in a new tab."""
        self.ext_page()
        page = self.context.new_page()
        self.opened.append(page)
        page.goto(self.ext_url(path), wait_until="load")
        return page

    def ext_call(self, action: str, args: dict | None = None) -> dict:
        reply = self.ext_page().evaluate(
            "([action, args]) => (globalThis.browser ?? globalThis.chrome).runtime.sendMessage({action, args})",
            [action, args or {}],
        )
        if not reply or not reply.get("ok"):
            raise AssertionError(f"{action} failed: {reply}")
        return reply["data"]

    def set_settings(self, **patch: Any) -> dict:
        return self.ext_call("settings.set", patch)

    # -- the vault, asked directly (as the CLI would)
    def vault(self, action: str, params: dict | None = None) -> dict:
        from satchel.daemon.client import VaultClient

        with VaultClient(self.satchel_home) as client:
            return client.call(action, params or {})

    def conversation(self, provider: str, conv_id: str) -> dict | None:
        data = self.vault("conversations.list", {"limit": 200})
        for conv in data["conversations"]:
            if conv["provider"] == provider and conv["id"] == conv_id:
                return conv
        return None

    def wait_for_conversation(self, provider: str, conv_id: str, messages: int, timeout: float = 20) -> dict:
        found: dict = {}

        def ready() -> bool:
            conv = self.conversation(provider, conv_id)
            found["conv"] = conv
            return bool(conv) and conv["message_count"] >= messages

        self.wait_until(
            ready,
            timeout,
            f"{self.name}: {provider}/{conv_id} with {messages} messages in the vault (last seen: {found.get('conv')})",
        )
        return found["conv"]

    def wait_embedded(self, timeout: float = 90) -> None:
        self.wait_until(lambda: self.vault("stats")["backlog"] == 0, timeout, "embedding backlog to drain")

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
        """Poll, letting Playwright dispatch events meanwhile (routes are served only while it runs)."""

        def pump(seconds: float) -> None:
            pages = [p for p in self.context.pages if not p.is_closed()] if self.context else []
            if pages:
                pages[0].wait_for_timeout(seconds * 1000)
            else:
                time.sleep(seconds)

        wait_until(predicate, timeout, what, interval, sleep=pump)

    def satchel_processes(self, kind: str | None = None) -> list:
        import psutil

        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmd = proc.info.get("cmdline") or []
            if "satchel" not in cmd or (kind and kind not in cmd):
                continue
            with contextlib.suppress(Exception):
                if proc.environ().get("SATCHEL_HOME") == str(self.satchel_home):
                    found.append(proc)
        return found

    def composer_text(self, page) -> str:
        """What the page's own editor holds (its model, not the DOM)."""
        return page.evaluate("() => window.__composerState ? window.__composerState() : null")


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
            last_exc = None
        except Exception as exc:
            last_exc = exc
        sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" ({last_exc})" if last_exc else ""))


LAUNCH_TIMEOUT_MS = 60_000
LAUNCH_ATTEMPTS = 3


def _launch_with_retry(launch: Callable[[], Any]) -> Any:
    """A browser start that hangs (seen once in ≈10 runs of Firefox ESR on a loaded 2-core machine) is killed
    by Playwright at the timeout and started again, rather than failing every test of the engine."""
    for attempt in range(1, LAUNCH_ATTEMPTS + 1):
        try:
            return launch()
        except sync_api.TimeoutError:
            if attempt == LAUNCH_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        yield pw


def _make_harness(request, tmp_path_factory, extension_ids, playwright_instance) -> Iterator[Harness]:
    name = request.param
    binary = FIREFOX_BIN if name == "firefox" else CHROMIUM_BIN
    if not Path(binary).exists():
        pytest.skip(f"{binary} is not installed")
    harness = Harness(name, tmp_path_factory.mktemp(f"e2e-{name}"), extension_ids)
    harness.install_host()
    # Start the vault owner (it loads the model) with the browser's environment before the browser starts.
    subprocess.run(
        [sys.executable, "-m", "satchel", "stats", "--json"],
        env=harness.env(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    harness.launch(playwright_instance)
    try:
        yield harness
    finally:
        harness.close()
        harness.stop_vault()
        shutil.rmtree(harness.profile, ignore_errors=True)


# One browser per engine for the whole session (pytest groups the tests by engine): launching Firefox
# and starting a vault owner cost seconds each, and the tests do not need an empty vault.
@pytest.fixture(scope="package", params=BROWSERS)
def ext(request, tmp_path_factory, extension_ids, playwright_instance) -> Iterator[Harness]:
    yield from _make_harness(request, tmp_path_factory, extension_ids, playwright_instance)


@pytest.fixture(autouse=True)
def _close_test_pages(request) -> Iterator[None]:
    """Pages a test leaves open (a failed assertion skips its close) must not confuse the next test."""
    yield
    if "ext" in request.fixturenames:
        request.getfixturevalue("ext").close_opened()
