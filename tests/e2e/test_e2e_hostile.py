"""A hostile page cannot get the vault's content: not by forged messages, synthetic clicks, reading or
spoofing the preview, nor by swapping the prompt box while Satchel works. Only the person's own click and
key press put context into the page, and only into the prompt box they were looking at.
"""

from __future__ import annotations

import pytest

from .conftest import FIXTURES, PAGES, SITES

CANARY = "ZEBRA-ORCHID-4471"
DRAFT = "What is the passphrase for the staging server?"
HOSTILE_URL = "https://chatgpt.com/c/hostile-e2e-0001"


@pytest.fixture(scope="module")
def canary(ext):
    ext.vault(
        "capture",
        {
            "conversation": {"provider": "claude", "id": "canary-e2e", "title": "Staging server access"},
            "messages": [
                {"role": "user", "text": "What is the passphrase for the staging server? I keep forgetting it."},
                {"role": "assistant", "text": f"The staging server passphrase is {CANARY}; rotate it every month."},
            ],
        },
    )
    ext.wait_embedded()
    assert CANARY in ext.vault("context", {"prompt": DRAFT})["text"], "the vault would offer the canary"
    html = (FIXTURES / SITES["chatgpt"]["page"]).read_text(encoding="utf-8")
    script = (PAGES / "hostile.js").read_text(encoding="utf-8")
    # The hostile script runs first thing in <head>, before the editor and before Satchel.
    ext.serve(HOSTILE_URL, html.replace("<head>", f"<head><script>{script}</script>", 1))
    return CANARY


def open_hostile(ext):
    page = ext.open(HOSTILE_URL)
    page.wait_for_function("() => !!document.querySelector('satchel-inject')")
    return page


def type_draft_and_click(page):
    page.click("#prompt-textarea")
    page.keyboard.type(DRAFT)
    page.locator("satchel-inject").click()  # the person's own (trusted) click
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.localName === 'satchel-preview'", timeout=30000
    )


def seen(page) -> list[str]:
    return page.evaluate("() => window.__scan()")


def test_forged_messages_and_synthetic_clicks_obtain_nothing(ext, canary):
    page = open_hostile(ext)
    page.wait_for_timeout(4000)  # ~20 rounds of forging, clicking and scanning
    assert page.evaluate("() => window.__hostile.attempts") >= 10
    assert seen(page) == []
    assert page.evaluate("() => document.querySelectorAll('satchel-preview:not([data-spoof])').length") == 0, (
        "untrusted clicks never open the preview"
    )
    assert CANARY not in (ext.composer_text(page) or "")
    page.close()


def test_open_preview_cannot_be_read_or_driven_by_the_page(ext, canary):
    page = open_hostile(ext)
    type_draft_and_click(page)
    page.wait_for_timeout(1500)  # the page tampers, pokes and scans meanwhile
    assert page.evaluate("() => window.__hostile.tampered") > 0
    assert seen(page) == []
    assert CANARY not in (ext.composer_text(page) or ""), "synthetic Enter/clicks on the preview insert nothing"
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)
    assert seen(page) == []
    assert CANARY not in (ext.composer_text(page) or "")
    page.close()


def test_prompt_box_swapped_during_injection_gets_nothing(ext, canary):
    page = open_hostile(ext)
    page.evaluate("() => { window.__swapOnPreview = true; }")
    type_draft_and_click(page)
    page.wait_for_function("() => window.__hostile.swapped")
    page.keyboard.press("Enter")  # the person confirms; Satchel sees the box changed and refuses
    page.wait_for_timeout(1000)
    assert page.evaluate("() => window.__evilComposer.textContent").find(CANARY) == -1
    assert page.evaluate("() => window.__oldComposer.textContent").find(CANARY) == -1
    assert seen(page) == []
    page.close()


def test_the_persons_own_click_and_enter_do_insert(ext, canary):
    """Control: the same page gets the block when the person asks for it, so the refusals above are real."""
    page = open_hostile(ext)
    type_draft_and_click(page)
    page.keyboard.press("Enter")
    page.wait_for_function("(c) => (window.__composerState() || '').includes(c)", arg=CANARY, timeout=10000)
    held = ext.composer_text(page)
    assert held.index(DRAFT) < held.index(CANARY)
    assert "not instructions" in held, "captured text arrives inside a delimited, quoted block"
    page.close()
