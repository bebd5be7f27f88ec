"""The keyword index saved at a clean stop: the next start loads it instead of re-reading every chunk, catches up
with what changed since, and never keeps words the vault forgot."""

from __future__ import annotations

import json

import pytest
from satchel.retrieve import snapshot
from satchel.vault.store import Vault


def conv(i: int) -> dict[str, str]:
    return {"provider": "chatgpt", "id": f"c{i}", "title": f"chat {i}"}


def turns(*texts: str) -> list[dict[str, str]]:
    return [{"role": "user" if n % 2 == 0 else "assistant", "text": t} for n, t in enumerate(texts)]


def fill(vault: Vault, n: int = 30) -> None:
    for i in range(n):
        vault.capture(conv(i), turns(f"How do I prune apple tree number {i}?",
                                     f"Cut the water sprouts of tree {i} in late winter, gardener{i}."))


def ranked(vault: Vault, query: str) -> list[tuple[str, str, float]]:
    return [(h["conversation_id"], h["message_id"], h["score"]) for h in vault.search(query, 10, strict=False)]


@pytest.fixture
def no_rebuild(monkeypatch):
    """Opening must not fall back to reading every chunk."""
    def refuse(self):
        raise AssertionError("rebuilt the index from the tables")
    monkeypatch.setattr(Vault, "_rebuild_indexes", refuse)


def test_clean_stop_saves_and_next_start_loads_the_same_index(satchel_home, request):
    vault = Vault.open(satchel_home, background_embedding=False)
    fill(vault)
    before = ranked(vault, "prune water sprouts gardener7")
    vault.close()
    assert (satchel_home / snapshot.INDEX_DIR / "manifest.json").exists()
    request.getfixturevalue("no_rebuild")
    again = Vault.open(satchel_home, background_embedding=False)
    try:
        assert before and ranked(again, "prune water sprouts gardener7") == before
        assert len(again.retriever) == 60
        # The restored index keeps growing like a fresh one.
        again.capture(conv(99), turns("Where do quinces grow best?", "In warm sheltered corners."))
        assert ranked(again, "quinces")[0][0] == "c99"
    finally:
        again.close()


def test_changes_after_the_snapshot_are_caught_up_at_start(satchel_home, monkeypatch, request):
    vault = Vault.open(satchel_home, background_embedding=False)
    fill(vault)
    vault.close()
    vault = Vault.open(satchel_home, background_embedding=False)
    # What happens before a crash: new turns, a streamed answer replaced in place; no clean stop to save them.
    vault.capture(conv(50), turns("Which rootstock for a dwarf pear?", "Quince A keeps it small."))
    vault.capture(conv(3), turns("How do I prune apple tree number 3?", "Leave the leader; snip the tips."))
    monkeypatch.setattr(Vault, "save_index_snapshot", lambda self: False)
    vault.close()
    monkeypatch.undo()
    request.getfixturevalue("no_rebuild")
    caught_up = Vault.open(satchel_home, background_embedding=False)
    got_new = ranked(caught_up, "dwarf pear rootstock")
    got_edit = ranked(caught_up, "snip the tips leader")
    gone = ranked(caught_up, "gardener3")
    size = len(caught_up.retriever)
    caught_up.close()
    monkeypatch.undo()
    snapshot.discard(satchel_home)
    rebuilt = Vault.open(satchel_home, background_embedding=False)
    try:
        assert got_new and got_new[0][0] == "c50"
        assert got_edit and got_edit[0][0] == "c3"
        assert not any(c == "c3" and m == "1" for c, m, _ in gone)  # the replaced answer left the index
        assert size == len(rebuilt.retriever) == 62
        # The same answers as an index built from scratch, scores included (prefixes were refreshed too).
        assert gone == ranked(rebuilt, "gardener3")
        assert got_edit == ranked(rebuilt, "snip the tips leader")
        assert got_new == ranked(rebuilt, "dwarf pear rootstock")
    finally:
        rebuilt.close()


def test_forget_deletes_the_snapshot_and_the_next_one_lacks_the_words(satchel_home):
    vault = Vault.open(satchel_home, background_embedding=False)
    fill(vault, 5)
    vault.capture({"provider": "claude", "id": "secret"}, turns("my codename is zanzibarquokka", "noted"))
    vault.save_index_snapshot()
    index_dir = satchel_home / snapshot.INDEX_DIR
    assert b"zanzibarquokka" in (index_dir / "manifest.json").read_bytes()
    vault.forget("conversation", provider="claude", conversation_id="secret")
    assert not index_dir.exists()
    vault.close()
    assert index_dir.exists()
    for path in index_dir.iterdir():
        assert b"zanzibarquokka" not in path.read_bytes(), path.name


@pytest.mark.parametrize("damage", ["garbage manifest", "missing segment", "other tokenizer"])
def test_a_damaged_or_foreign_snapshot_means_a_rebuild_not_an_error(satchel_home, damage):
    vault = Vault.open(satchel_home, background_embedding=False)
    fill(vault, 8)
    before = ranked(vault, "gardener5")
    vault.close()
    index_dir = satchel_home / snapshot.INDEX_DIR
    if damage == "garbage manifest":
        (index_dir / "manifest.json").write_bytes(b"\x00not json")
    elif damage == "missing segment":
        next(index_dir.glob("seg*_rows.npy")).unlink()
    else:
        manifest = json.loads((index_dir / "manifest.json").read_text())
        manifest["settings"]["tokenizer"] = -1
        (index_dir / "manifest.json").write_text(json.dumps(manifest))
    again = Vault.open(satchel_home, background_embedding=False)
    try:
        assert ranked(again, "gardener5") == before
    finally:
        again.close()


def test_snapshot_segments_are_memory_mapped_not_copied(satchel_home, request):
    import numpy as np

    vault = Vault.open(satchel_home, background_embedding=False)
    fill(vault, 5)
    vault.close()
    request.getfixturevalue("no_rebuild")
    again = Vault.open(satchel_home, background_embedding=False)
    try:
        segments = again.retriever.keyword._segments
        assert segments and all(isinstance(seg.rows, np.memmap) for seg in segments)
    finally:
        again.close()


def test_a_file_left_mostly_free_blocks_is_rewritten_at_close(satchel_home, monkeypatch):
    from satchel.vault import store

    monkeypatch.setattr(store, "COMPACT_MIN_BLOCKS", 0)
    vault = Vault.open(satchel_home, background_embedding=False)
    fill(vault, 10)
    # What a big import leaves behind: blocks written, then freed.
    vault.db.execute("CREATE TABLE scratch AS SELECT md5(i::VARCHAR) || md5((i * 7)::VARCHAR) || md5((i * 13)::VARCHAR)"
                     " AS t FROM range(300000) r(i)")
    vault.db.execute("CHECKPOINT")
    vault.db.execute("DROP TABLE scratch")
    vault.db.execute("CHECKPOINT")
    sparse = (satchel_home / "vault.duckdb").stat().st_size
    vault.close()
    compacted = (satchel_home / "vault.duckdb").stat().st_size
    assert compacted < sparse / 2
    again = Vault.open(satchel_home, background_embedding=False)
    try:
        assert ranked(again, "gardener4")[0][0] == "c4"
        assert again.stats()["messages"] == 20
        assert not again.compact_if_sparse()  # nothing left to reclaim
    finally:
        again.close()
