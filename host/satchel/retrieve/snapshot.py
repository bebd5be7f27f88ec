"""The keyword index on disk, so the vault owner starts in a second instead of re-reading every chunk.

A snapshot is a directory of ``.npy`` arrays (per-row metadata, the immutable BM25 segments) and a
``manifest.json`` (format, tokenizer version, vocabulary). Loading memory-maps the segments: the owner's memory
holds the pages its queries touch, and the kernel can drop them under pressure. A snapshot is a cache, never the
truth: the vault reconciles it with DuckDB's chunk ids at start (``Vault._load_indexes``) and any mismatch in
format or settings means a rebuild from the tables. It is replaced atomically (write aside, then rename) and
deleted when the vault forgets something, since its vocabulary would still hold the forgotten words.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 2  # 2: postings weights in uint8 half-units
INDEX_DIR = "index"


def save(home: Path, state: dict[str, Any], settings: dict[str, Any]) -> Path:
    """Write ``Retriever.state()`` under ``home/index`` (replacing the previous snapshot). Returns the path."""
    final = home / INDEX_DIR
    tmp = home / f"{INDEX_DIR}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(mode=0o700)
    try:
        for name, array in state["rows"].items():
            np.save(tmp / f"row_{name}.npy", np.ascontiguousarray(array))
        keyword = state["keyword"]
        np.save(tmp / "df.npy", keyword["df"])
        for i, (offsets, rows, weights) in enumerate(keyword["segments"]):
            np.save(tmp / f"seg{i}_offsets.npy", offsets)
            np.save(tmp / f"seg{i}_rows.npy", rows)
            np.save(tmp / f"seg{i}_weights.npy", weights)
        manifest = {
            "format": FORMAT, "settings": settings, "n": state["n"], "live": state["live"],
            "length_sum": state["length_sum"], "providers": state["providers"],
            "segments": len(keyword["segments"]), "terms": keyword["terms"],
        }
        with open(tmp / "manifest.json", "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        old = None
        if final.exists():
            old = home / f"{INDEX_DIR}.old-{uuid.uuid4().hex[:8]}"
            final.rename(old)
        tmp.rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load(home: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state if a usable snapshot exists for these settings, else None (the caller rebuilds)."""
    path = home / INDEX_DIR
    try:
        with open(path / "manifest.json", encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the index snapshot (%s): rebuilding", exc)
        return None
    if manifest.get("format") != FORMAT or manifest.get("settings") != settings:
        return None
    try:
        rows = {p.name[4:-4]: np.load(p, mmap_mode="r") for p in path.glob("row_*.npy")}
        segments = [tuple(np.load(path / f"seg{i}_{part}.npy", mmap_mode="r")
                          for part in ("offsets", "rows", "weights"))
                    for i in range(int(manifest["segments"]))]
        df = np.load(path / "df.npy")
        n = int(manifest["n"])
        terms = manifest["terms"]
        if df.size != len(terms) or any(a.shape[0] != n for a in rows.values()):
            raise ValueError("array sizes disagree with the manifest")
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring the index snapshot (%s): rebuilding", exc)
        return None
    return {"rows": rows, "keyword": {"terms": terms, "df": df, "segments": segments}, "n": n,
            "live": manifest["live"], "length_sum": manifest["length_sum"], "providers": manifest["providers"]}


def discard(home: Path) -> None:
    """Delete the snapshot (and any half-written one)."""
    for path in [home / INDEX_DIR, *home.glob(f"{INDEX_DIR}.tmp-*"), *home.glob(f"{INDEX_DIR}.old-*")]:
        shutil.rmtree(path, ignore_errors=True)
