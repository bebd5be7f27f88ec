"""Auto-capture: every adapter's fixture page, served at the site's real URL, ends up in the vault.

The content script runs from the manifest's match patterns exactly as in production, waits until the
answer has finished streaming, and sends each turn once; the vault is then asked directly.
"""

from __future__ import annotations

import json
import time

import pytest

from .conftest import FIXTURES, SITES

# Sites the person adds on the options page need an optional host permission, which a headless browser
# cannot grant without its prompt (see the module docstring of conftest and the report).
BUILT_IN = [adapter for adapter, site in SITES.items() if not site.get("custom_sites")]


def expected_for(adapter: str) -> dict:
    return json.loads((FIXTURES / SITES[adapter]["expected"]).read_text(encoding="utf-8"))


@pytest.mark.parametrize("adapter", BUILT_IN)
def test_conversation_on_site_is_captured_into_the_vault(ext, adapter):
    expected = expected_for(adapter)
    conv = expected["conversation"]
    page = ext.open_site(adapter)
    loaded = time.monotonic()
    ext.wait_for_conversation(conv["provider"], conv["id"], len(expected["messages"]))
    print(f"{ext.name} {adapter}: in the vault {(time.monotonic() - loaded) * 1000:.0f} ms after page load")
    stored = ext.vault("conversation.get", {"provider": conv["provider"], "id": conv["id"]})
    texts = [m["text"] for m in stored["messages"]]
    roles = [m["role"] for m in stored["messages"]]
    assert texts == [m["text"] for m in expected["messages"]]
    assert roles == [m["role"] for m in expected["messages"]]
    meta = stored.get("conversation", stored)
    assert meta.get("title") == conv["title"]
    assert meta.get("url") == conv["url"]
    page.close()


def test_reloaded_page_sends_nothing_new(ext):
    expected = expected_for("chatgpt")
    conv = expected["conversation"]
    page = ext.open_site("chatgpt")
    ext.wait_for_conversation(conv["provider"], conv["id"], len(expected["messages"]))
    page.reload(wait_until="load")
    page.wait_for_timeout(2000)
    again = ext.vault("conversation.get", {"provider": conv["provider"], "id": conv["id"]})
    assert len(again["messages"]) == len(expected["messages"])
    page.close()


def test_streaming_answer_is_captured_once_complete(ext):
    site = SITES["chatgpt"]
    if not site.get("streaming_page"):
        pytest.skip("no streaming fixture")
    conv_id = "streaming-e2e-0001"
    page = ext.open(ext.serve(f"https://chatgpt.com/c/{conv_id}", (FIXTURES / site["streaming_page"]).read_bytes()))
    page.wait_for_timeout(2500)
    assert ext.conversation("chatgpt", conv_id) is None, "nothing is stored while the answer is streaming"
    # The answer finishes: the stop button goes, the text completes.
    page.evaluate("""() => {
        document.querySelector("[data-testid='stop-button']").remove();
        const body = document.querySelector('.result-streaming');
        body.classList.remove('result-streaming');
        body.innerHTML = '<p>Use slicing — it returns a new list: items[::-1].</p>';
    }""")
    ext.wait_for_conversation("chatgpt", conv_id, 2)
    stored = ext.vault("conversation.get", {"provider": "chatgpt", "id": conv_id})
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
    assert stored["messages"][1]["text"].endswith("items[::-1].")
    page.close()


def test_new_turns_on_a_site_without_message_ids_are_added_not_merged(ext):
    """Claude's page gives no message ids: a turn that appears later is a new message in the vault."""
    expected = expected_for("claude")
    conv = expected["conversation"]
    page = ext.open_site("claude")
    ext.wait_for_conversation(conv["provider"], conv["id"], len(expected["messages"]))
    # The person asks again and the answer arrives: the page appends two render blocks.
    page.evaluate("""() => {
        const blocks = [...document.querySelectorAll('[data-test-render-count]')].slice(-2);
        const [q, a] = blocks.map((b) => b.cloneNode(true));
        q.querySelector('[data-testid="user-message"] p').textContent = 'And when is a plain --force fine?';
        a.querySelector('.standard-markdown').innerHTML = '<p>Only on a branch nobody else has pulled.</p>';
        blocks[1].after(q, a);
    }""")
    ext.wait_for_conversation(conv["provider"], conv["id"], len(expected["messages"]) + 2)
    stored = ext.vault("conversation.get", {"provider": conv["provider"], "id": conv["id"]})
    texts = [m["text"] for m in stored["messages"]]
    assert texts[: len(expected["messages"])] == [m["text"] for m in expected["messages"]]
    assert texts[-2:] == ["And when is a plain --force fine?", "Only on a branch nobody else has pulled."]
    page.close()
