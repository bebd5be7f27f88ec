"""Sites the person adds on the options page: a self-hosted Open WebUI origin and a chat described by CSS
selectors. The background registers the content scripts at run time for exactly those origins.

In production the origin's permission comes from `permissions.request` on the options page, a browser
prompt no headless browser can answer. So this module loads a copy of the Chromium build whose manifest
already holds those two origins as host permissions; everything after the grant is the product's own path:
the sites stored in settings, run-time registration by the background, the content script choosing the
Open WebUI adapter or building one from the selectors, capture, and insertion into a plain contenteditable.
Chromium only: settings are written through an extension page, which Playwright cannot open in Firefox.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from .conftest import FIXTURES, SITES, SITES_MANIFEST, Harness

CUSTOM = SITES_MANIFEST["custom"]
OPENWEBUI = SITES["openwebui"]


@pytest.fixture(scope="module")
def custom(tmp_path_factory, extension_ids, playwright_instance) -> Iterator[Harness]:
    harness = Harness("chromium", tmp_path_factory.mktemp("e2e-custom"), extension_ids)
    granted = harness.tmp / "extension"
    shutil.copytree(harness.extension_dir, granted)
    manifest = json.loads((granted / "manifest.json").read_text())
    manifest["host_permissions"] = ["http://localhost/*", "https://chat.example.org/*"]
    (granted / "manifest.json").write_text(json.dumps(manifest, indent=2))
    harness.extension_dir = granted
    harness.install_host()
    harness.launch(playwright_instance)
    try:
        sites = [{**s, "id": f"custom:{s['origin']}"} for s in OPENWEBUI["custom_sites"] + CUSTOM["custom_sites"]]
        harness.set_settings(customSites=sites)
        registered = "() => chrome.scripting.getRegisteredContentScripts().then((s) => s.map((r) => r.matches))"
        harness.wait_until(lambda: harness.ext_page().evaluate(registered) != [], 10, "run-time registration")
        yield harness
    finally:
        harness.close()
        harness.stop_vault()


def expected(path: str) -> dict:
    return json.loads((FIXTURES / path).read_text(encoding="utf-8"))


@pytest.mark.parametrize("which", ["openwebui", "selectors"])
def test_added_site_is_captured(custom, which):
    site = OPENWEBUI if which == "openwebui" else CUSTOM
    exp = expected(site["expected"])
    custom.open(custom.serve(site["url"], (FIXTURES / site["page"]).read_bytes()))
    conv = custom.wait_for_conversation(
        exp["conversation"]["provider"], exp["conversation"]["id"], len(exp["messages"])
    )
    assert conv["title"] == exp["conversation"]["title"]
    stored = custom.vault(
        "conversation.get", {"provider": exp["conversation"]["provider"], "id": exp["conversation"]["id"]}
    )
    assert [m["text"] for m in stored["messages"]] == [m["text"] for m in exp["messages"]]


def test_inject_into_a_plain_contenteditable(custom):
    """The selectors site's prompt box is a bare contenteditable: insertText is the route."""
    page = custom.open(custom.serve(CUSTOM["url"], (FIXTURES / CUSTOM["page"]).read_bytes()))
    exp = expected(OPENWEBUI["expected"])
    custom.wait_for_conversation(exp["conversation"]["provider"], exp["conversation"]["id"], len(exp["messages"]))
    custom.wait_embedded()
    draft = "How do I back up a Docker volume?"
    page.click("#reply-box")
    page.keyboard.type(draft)
    page.wait_for_function("() => !!document.querySelector('satchel-inject')")
    page.locator("satchel-inject").click()
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.localName === 'satchel-preview'", timeout=30000
    )
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#reply-box').innerText.includes('tar')", timeout=10000)
    text = page.inner_text("#reply-box")
    assert text.index(draft) < text.index("satchel-context")
