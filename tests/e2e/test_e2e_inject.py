"""The inject-context button, on every kind of prompt box, with the page's real editor library.

A conversation captured on ChatGPT's page is offered as context on other providers' pages: the button
opens a preview (closed shadow root), Enter inserts the block after the person's draft, and the page's
own editor model (ProseMirror, Quill, Lexical, a React-style textarea) holds it, with its send button on.
"""

from __future__ import annotations

import json
import time

import pytest

from .conftest import FIXTURES, SCREENSHOTS, SITES

DRAFT = "How can I reverse a Python list but keep the original list unchanged?"
# What only the captured ChatGPT answer says (tests/extension/fixtures/chatgpt/expected.json).
EVIDENCE = "items[::-1]"

TARGETS = {
    # adapter: (composer CSS, send button CSS)
    "claude": ("div.ProseMirror[contenteditable='true']", "button[aria-label='Send message']"),
    "gemini": (".ql-editor", "button.send-button"),
    "perplexity": ("#ask-input", "button[data-testid='submit-button']"),
    "copilot": ("#userInput", "button[data-testid='submit-button']"),
}


@pytest.fixture(scope="module")
def seeded(ext):
    """ChatGPT's conversation, captured through the extension and embedded by the real model."""
    expected = json.loads((FIXTURES / SITES["chatgpt"]["expected"]).read_text())
    page = ext.open_site("chatgpt")
    ext.wait_for_conversation("chatgpt", expected["conversation"]["id"], len(expected["messages"]))
    page.close()
    ext.wait_embedded()
    return expected


def open_preview(ext, page, composer_css: str) -> float:
    """Type the draft, click Satchel's button (a trusted click), wait until the preview takes focus."""
    page.click(composer_css)
    page.keyboard.type(DRAFT)
    page.wait_for_function(
        "() => !!document.querySelector('satchel-inject') && "
        "getComputedStyle(document.querySelector('satchel-inject')).display !== 'none'"
    )
    started = time.monotonic()
    page.locator("satchel-inject").click()
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.localName === 'satchel-preview'", timeout=30000
    )
    return time.monotonic() - started


def send_enabled(page, css: str) -> bool:
    return page.evaluate(
        """(css) => { const b = document.querySelector(css);
        return !!b && !b.disabled && b.getAttribute('aria-disabled') !== 'true'; }""",
        css,
    )


@pytest.mark.parametrize("adapter", list(TARGETS))
def test_inject_button_puts_relevant_context_after_the_draft(ext, seeded, adapter):
    composer_css, send_css = TARGETS[adapter]
    page = ext.open_site(adapter)
    seconds = open_preview(ext, page, composer_css)
    if adapter == "claude":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"inject-preview-{ext.name}.png"))
    page.keyboard.press("Enter")  # Insert is focused
    page.wait_for_function("(ev) => (window.__composerState() || '').includes(ev)", arg=EVIDENCE, timeout=10000)
    held = ext.composer_text(page)
    assert held.index(DRAFT) < held.index(EVIDENCE), "the block goes after the person's draft"
    block_head = held[held.index(DRAFT) + len(DRAFT) :].strip().splitlines()[0]
    assert held.count(DRAFT) == 1 and held.count(block_head) == 1, "inserted exactly once"
    assert send_enabled(page, send_css), "the site's send button is enabled by the editor's own state"
    print(f"{ext.name} {adapter}: preview ready {seconds * 1000:.0f} ms after the click")
    page.close()
