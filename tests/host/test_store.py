"""The vault's capture semantics: content-hash identity, streaming growth, edits with history."""

from __future__ import annotations

import pytest
from satchel.errors import InvalidParams, NotFound
from satchel.vault.store import Vault


@pytest.fixture
def vault(satchel_home):
    opened = Vault.open(satchel_home, background_embedding=False)
    yield opened
    opened.close()


CONV = {"provider": "claude", "id": "conv-1", "title": "Garden"}


def msgs(*pairs):
    return [{"role": role, "text": text} for role, text in pairs]


def test_resent_conversation_writes_only_new_messages(vault):
    first = msgs(("user", "How deep should I plant garlic?"), ("assistant", "About 5 cm deep."))
    assert vault.capture(CONV, first) == {"added": 2, "updated": 0, "unchanged": 0}
    more = [*first, *msgs(("user", "And when?"), ("assistant", "In autumn."))]
    assert vault.capture(CONV, more) == {"added": 2, "updated": 0, "unchanged": 2}
    assert vault.stats()["messages"] == 4


def test_streamed_answer_that_grows_is_updated_not_duplicated(vault):
    vault.capture(CONV, msgs(("user", "Name a tomato variety"), ("assistant", "San Mar")))
    assert vault.capture(CONV, msgs(("user", "Name a tomato variety"), ("assistant", "San Marzano is a classic."))) == \
        {"added": 0, "updated": 1, "unchanged": 1}
    got = vault.get_conversation("claude", "conv-1", history=True)
    assert [m["text"] for m in got["messages"]] == ["Name a tomato variety", "San Marzano is a classic."]
    assert got["messages"][1]["history"] == []  # growth is not an edit


def test_regenerated_answer_keeps_its_history(vault):
    vault.capture(CONV, msgs(("user", "Best mulch?"), ("assistant", "Straw works well.")))
    vault.capture(CONV, msgs(("user", "Best mulch?"), ("assistant", "Wood chips, for paths.")))
    answer = vault.get_conversation("claude", "conv-1", history=True)["messages"][1]
    assert answer["text"] == "Wood chips, for paths." and answer["version"] == 2
    assert [h["text"] for h in answer["history"]] == ["Straw works well."]


def test_site_ids_identify_messages(vault):
    vault.capture(CONV, [{"id": "m1", "role": "user", "text": "first draft"}])
    assert vault.capture(CONV, [{"id": "m1", "role": "user", "text": "edited prompt"}])["updated"] == 1
    assert vault.stats()["messages"] == 1


def test_old_turns_dropped_from_the_page_are_not_duplicated(vault):
    turns = msgs(*[("user" if i % 2 == 0 else "assistant", f"turn number {i}") for i in range(6)])
    vault.capture(CONV, turns)
    # A long chat: the site unloaded the first four turns and a new pair arrived.
    later = [*turns[4:], *msgs(("user", "turn number 6"), ("assistant", "turn number 7"))]
    assert vault.capture(CONV, later) == {"added": 2, "updated": 0, "unchanged": 2}
    ordinals = [m["ordinal"] for m in vault.get_conversation("claude", "conv-1")["messages"]]
    assert ordinals == sorted(ordinals) and len(set(ordinals)) == 8


def test_secrets_are_redacted_before_storage(vault):
    vault.capture(CONV, msgs(("user", "my key is sk-ant-api03-" + "a1B2c3D4e5" * 8)))
    text = vault.get_conversation("claude", "conv-1")["messages"][0]["text"]
    assert "sk-ant" not in text and "[REDACTED" in text


def test_keyword_search_finds_a_capture_at_once(vault):
    vault.capture(CONV, msgs(("user", "the quokka photo from Rottnest island")))
    assert vault.search("quokka rottnest")[0]["text"].startswith("the quokka")


def test_vector_search_after_embedding(vault):
    vault.capture(CONV, msgs(("user", "the quokka photo from Rottnest island")))
    assert vault.embed_pending() == 1
    assert vault.stats()["backlog"] == 0


def test_filters_by_provider_and_time(vault):
    vault.capture({"provider": "chatgpt", "id": "a"},
                  [{"role": "user", "text": "pelican brief", "created_at": "2024-01-05T10:00:00Z"}])
    vault.capture({"provider": "claude", "id": "b"},
                  [{"role": "user", "text": "pelican migration", "created_at": "2025-06-01T10:00:00+02:00"}])
    assert {h["provider"] for h in vault.search("pelican", provider="claude")} == {"claude"}
    assert [h["conversation_id"] for h in vault.search("pelican", since="2025-01-01")] == ["b"]
    assert [h["conversation_id"] for h in vault.search("pelican", until="2024-12-31")] == ["a"]


def test_bad_time_is_invalid_params(vault):
    with pytest.raises(InvalidParams, match="ISO-8601"):
        vault.capture(CONV, [{"role": "user", "text": "x", "created_at": "yesterday-ish"}])
    assert vault.stats()["messages"] == 0  # nothing partial


def test_forget_scopes(vault):
    vault.capture({"provider": "chatgpt", "id": "a"}, msgs(("user", "alpha one"), ("assistant", "alpha two")))
    vault.capture({"provider": "claude", "id": "b"}, msgs(("user", "beta one")))
    assert vault.forget("message", provider="chatgpt", conversation_id="a", message_id=vault.get_conversation(
        "chatgpt", "a")["messages"][0]["id"]) == {"conversations": 0, "messages": 1}
    assert vault.forget("provider", provider="claude") == {"conversations": 1, "messages": 1}
    assert vault.forget("all") == {"conversations": 1, "messages": 1}
    assert vault.stats()["messages"] == 0 and vault.search("alpha") == []
    with pytest.raises(NotFound):
        vault.forget("conversation", provider="chatgpt", conversation_id="a")


def test_import_batch_is_all_or_nothing(vault):
    items = [({"provider": "chatgpt", "id": "ok"}, msgs(("user", "fine"))),
             ({"provider": "chatgpt", "id": "bad"}, [{"role": "user", "text": "x", "created_at": "not a date"}])]
    with pytest.raises(InvalidParams):
        vault.import_batch(items, source="import:test")
    assert vault.stats()["conversations"] == 0
    assert vault.import_batch(items[:1], source="import:test")["added"] == 1


def test_vault_reopens_with_its_index(satchel_home):
    vault = Vault.open(satchel_home, background_embedding=False)
    vault.capture(CONV, msgs(("user", "persistent marmalade recipe")))
    vault.close()
    again = Vault.open(satchel_home, background_embedding=False)
    assert again.search("marmalade")[0]["title"] == "Garden"
    again.close()


def test_the_same_text_in_two_conversations_is_one_result(vault):
    for conv in ("first", "again"):
        vault.capture({"provider": "chatgpt", "id": conv}, msgs(("user", "How do I reverse a list in Python?")))
    vault.capture({"provider": "chatgpt", "id": "other"}, msgs(("user", "Reverse a linked list in C, please")))
    texts = [h["text"] for h in vault.search("reverse a list python")]
    assert texts.count("How do I reverse a list in Python?") == 1


def test_a_typed_search_finds_a_literal_word_that_injected_context_would_not(vault):
    vault.capture(CONV, msgs(("user", "my bike needs a new derailleur hanger"),
                             ("user", "unrelated filler text about cooking rice")))
    vault.embed_pending()
    assert vault.search("derailleur", strict=False)[0]["text"] == "my bike needs a new derailleur hanger"


def test_bulk_work_borrows_memory_and_gives_it_back(vault):
    """DuckDB's cache stays small between requests; only a bulk read gets the larger limit, and only while it runs,
    even when it fails."""
    def limit() -> str:
        return vault.db.execute("SELECT current_setting('memory_limit')").fetchone()[0]

    steady = limit()
    with vault.roomy():
        assert limit() != steady
    assert limit() == steady
    with pytest.raises(RuntimeError), vault.roomy():
        raise RuntimeError("a bulk read that failed")
    assert limit() == steady
