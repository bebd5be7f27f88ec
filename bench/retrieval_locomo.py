"""Retrieval quality on the LoCoMo dev split, through Satchel's own capture and search path.

    python bench/retrieval_locomo.py                 # via the Vault (capture -> embed -> search)
    python bench/retrieval_locomo.py --path direct   # the Retriever alone (fast, for tuning)
    python bench/retrieval_locomo.py --latency 100000,1000000   # search latency on synthetic vaults

Each LoCoMo sample gets its own vault (the task ranks the turns of the question's own conversation). Each
session of a sample is captured as its own conversation, with the session's date as the messages' created_at:
a LoCoMo session is one sitting on one day, which is what a captured chat thread is; the sample (months of
sessions between the same two people) is the person's history, not one thread. Turns go in as
'<speaker> said, "<text>"'; speaker A is the "user", speaker B the "assistant". Image turns keep only their text
(a capture sees no BLIP caption) unless --captions. Questions are asked "now" = one day after the last session.

Vectors come from the real ONNX model (satchel.embed), cached under ~/.cache/satchel-bench/ by model id.
The data is evaluation-only: nothing from it goes anywhere but these printed figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "host"))

from satchel.retrieve import Doc, Filters, RetrievalConfig, Retriever  # noqa: E402
from satchel.retrieve.text import STOPWORDS  # noqa: E402

DATA = Path("/work/shared/eval/locomo-dev.json")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
KS = (5, 10, 25)


# ---------------------------------------------------------------------------------------------- embeddings
# Vectors of satchel.embed's ONNX model, keyed by (model id, sha1(text)) under ~/.cache/satchel-bench/ (never
# committed): embedding the 3,800 texts takes a few minutes on 2 cores, a cached run a few seconds.
CACHE_DIR = Path(os.environ.get("SATCHEL_BENCH_CACHE", Path.home() / ".cache" / "satchel-bench"))


def get_bench_embedder():
    from satchel.embed import get_embedder

    os.environ["SATCHEL_EMBEDDER"] = "onnx"  # the figures must come from the real model, never the fake one
    return get_embedder()


class EmbeddingCache:
    def __init__(self, embedder) -> None:
        self.embedder = embedder
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        safe = embedder.model_id.replace("/", "_").replace("@", "_")
        self.path = CACHE_DIR / f"emb-{safe}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            z = np.load(self.path)
            for key, vec in zip(z["keys"], z["vectors"], strict=True):
                self.vectors[str(key)] = vec

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def get(self, texts: list[str], batch: int = 16) -> np.ndarray:
        todo = sorted({t for t in texts if self.key(t) not in self.vectors}, key=len)
        if todo:
            started = time.time()
            for i in range(0, len(todo), batch):
                part = todo[i : i + batch]
                for t, v in zip(part, self.embedder.embed(part), strict=True):
                    self.vectors[self.key(t)] = v
                if (i // batch) % 20 == 0:
                    print(f"  embedded {i + len(part)}/{len(todo)} ({time.time() - started:.0f}s)", file=sys.stderr)
                if (i // batch) % 50 == 49:
                    self.save()
            self.save()
        return np.stack([self.vectors[self.key(t)] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def save(self) -> None:
        keys = np.array(list(self.vectors.keys()))
        vecs = np.stack(list(self.vectors.values())).astype(np.float32)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vecs)
        os.replace(tmp, self.path)


# ---------------------------------------------------------------------------------------------- data
def session_time(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def load(captions: bool):
    samples = []
    for raw in json.loads(DATA.read_text()):
        conv = raw["conversation"]
        speakers = {conv["speaker_a"]: "user", conv["speaker_b"]: "assistant"}
        sessions = []
        n = 1
        while f"session_{n}" in conv:
            when = session_time(conv[f"session_{n}_date_time"])
            turns = []
            for i, t in enumerate(conv[f"session_{n}"]):
                body = t["text"]
                if captions and t.get("blip_caption"):
                    body += f" [shares {t['blip_caption']}]"
                turns.append({"id": t["dia_id"], "role": speakers.get(t["speaker"], "user"),
                              "text": f'{t["speaker"]} said, "{body}"',
                              "created_at": (when + timedelta(seconds=i)).isoformat()})
            sessions.append((n, when, turns))
            n += 1
        known = {t["id"] for _, _, ts in sessions for t in ts}
        qa = []
        for item in raw["qa"]:
            evidence = set()
            for e in item.get("evidence", []):
                for part in re.split(r"[;,\s]+", str(e)):
                    m = re.fullmatch(r"D:?(\d+):0*(\d+)", part.strip())
                    if m and f"D{m.group(1)}:{m.group(2)}" in known:
                        evidence.add(f"D{m.group(1)}:{m.group(2)}")
            if evidence:
                qa.append({"question": item["question"], "category": item["category"], "evidence": evidence})
        now = max(w for _, w, _ in sessions) + timedelta(days=1)
        samples.append({"id": raw["sample_id"], "sessions": sessions, "qa": qa, "now": now.timestamp()})
    return samples


# ---------------------------------------------------------------------------------------------- backends
class DirectBackend:
    """The Retriever alone, fed the way the Vault feeds it (previous message as prefix)."""

    name = "direct"

    def __init__(self, sample, cache: EmbeddingCache, config: RetrievalConfig) -> None:
        self.retriever = Retriever(config=config)
        self.dia = {}
        docs = []
        chunk_id = 0
        for conv_id, (_, _, turns) in enumerate(sample["sessions"]):
            previous = ""
            for pos, t in enumerate(turns):
                chunk_id += 1
                self.dia[chunk_id] = t["id"]
                docs.append(Doc(chunk_id=chunk_id, message_id=chunk_id, conversation_id=conv_id, provider="locomo",
                                role=t["role"], created_at=datetime.fromisoformat(t["created_at"]).timestamp(),
                                text=t["text"], position=pos, prefix=previous))
                previous = t["text"]
        self.retriever.add_documents(docs)
        self.retriever.add_vectors([d.chunk_id for d in docs], cache.get([d.text for d in docs]))
        self.retriever.clock = lambda: sample["now"]
        self.cache = cache

    def search(self, question: str, k: int, mode: str) -> list[str]:
        self.retriever.config.mode = mode
        qv = self.cache.get([question])[0]
        hits = self.retriever.search(question, qv, k * 3)
        out: list[str] = []
        for h in hits:
            dia = self.dia[h.message_id]
            if dia not in out:
                out.append(dia)
        return out[:k]


class CachedEmbedder:
    """The real embedder (identity, token counting, limits) with its vectors served from the bench cache."""

    def __init__(self, cache: EmbeddingCache) -> None:
        self.cache = cache
        self.model_id = cache.embedder.model_id

    def embed(self, texts):
        return self.cache.get(list(texts))

    def __getattr__(self, name: str):
        return getattr(self.cache.embedder, name)


class VaultBackend:
    """Capture every session through Vault.capture, embed with the Vault's own loop, search with Vault.search."""

    name = "vault"

    def __init__(self, sample, cache: EmbeddingCache, config: RetrievalConfig, home: Path) -> None:
        from satchel.vault.store import Vault

        self.vault = Vault.open(home, background_embedding=False)
        self.vault.retriever.config = config
        self.vault.retriever.clock = lambda: sample["now"]
        for n, _, turns in sample["sessions"]:
            self.vault.capture({"provider": "locomo", "id": f"{sample['id']}-session-{n}",
                                "title": f"{sample['id']} session {n}"}, turns)
        self.vault._embedder = CachedEmbedder(cache)
        self.vault._load_vectors()
        self.vault.embed_pending()

    def search(self, question: str, k: int, mode: str) -> list[str]:
        self.vault.retriever.config.mode = mode
        return [h["message_id"] for h in self.vault.search(question, k=k)]

    def close(self) -> None:
        self.vault.close()


class PlainBM25:
    """The reference point of FACTS.md: classic BM25 (k1 1.2, b 0.75) over the same turn texts, lower-case word
    tokens minus English stopwords, no stemming, no previous turn, no vectors (reproduces 0.524 / 0.59)."""

    def __init__(self, sample) -> None:
        turns = [t for _, _, ts in sample["sessions"] for t in ts]
        self.ids = [t["id"] for t in turns]
        docs = [self.tokens(t["text"]) for t in turns]
        self.lengths = np.array([len(d) for d in docs], float)
        self.postings: dict[str, dict[int, int]] = {}
        for i, d in enumerate(docs):
            for w in d:
                self.postings.setdefault(w, {}).setdefault(i, 0)
                self.postings[w][i] += 1

    @staticmethod
    def tokens(text: str) -> list[str]:
        return [w for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS]

    def search(self, question: str, k: int) -> list[str]:
        n, avg = len(self.ids), self.lengths.mean()
        scores = np.zeros(n)
        for w in self.tokens(question):
            post = self.postings.get(w)
            if not post:
                continue
            idf = np.log1p((n - len(post) + 0.5) / (len(post) + 0.5))
            rows = np.fromiter(post.keys(), int)
            tf = np.fromiter(post.values(), float)
            scores[rows] += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * self.lengths[rows] / avg))
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[i] for i in top if scores[i] > 0]


# ---------------------------------------------------------------------------------------------- scoring
def score(runs: dict[str, list[tuple[int, set[str], list[str]]]]) -> str:
    lines = []
    header = f"{'mode':<9} {'category':<12} {'n':>4} " + " ".join(f"frac@{k:<3}" for k in KS) + " " + \
        " ".join(f"all@{k:<4}" for k in KS)
    lines.append(header)
    for mode, items in runs.items():
        groups = {c: [it for it in items if it[0] == c] for c in CATEGORIES}
        groups_list = [(CATEGORIES[c], g) for c, g in groups.items()] + [("overall", items)]
        for label, group in groups_list:
            if not group:
                continue
            fr = [statistics.mean(len(ev & set(ranked[:k])) / len(ev) for _, ev, ranked in group) for k in KS]
            al = [statistics.mean(float(ev <= set(ranked[:k])) for _, ev, ranked in group) for k in KS]
            lines.append(f"{mode:<9} {label:<12} {len(group):>4} " + " ".join(f"{v:<8.3f}" for v in fr) + " " +
                         " ".join(f"{v:<8.3f}" for v in al))
        lines.append("")
    return "\n".join(lines)


def parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        default = getattr(RetrievalConfig(), key)
        out[key] = type(default)(value) if not isinstance(default, bool) else value.lower() in ("1", "true", "yes")
    return out


def run_quality(args) -> None:
    samples = load(args.captions)
    cache = EmbeddingCache(get_bench_embedder())
    config = replace(RetrievalConfig(), **parse_overrides(args.set))
    modes = args.modes.split(",")
    runs: dict[str, list] = {m: [] for m in modes}
    runs["bm25-ref"] = []
    latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="satchel-locomo-") as tmp:
        for sample in samples:
            if args.path == "vault":
                backend = VaultBackend(sample, cache, replace(config), Path(tmp) / sample["id"])
            else:
                backend = DirectBackend(sample, cache, replace(config))
            cache.get([q["question"] for q in sample["qa"]])  # warm: latency below excludes embedding
            for mode in modes:
                for q in sample["qa"]:
                    started = time.perf_counter()
                    ranked = backend.search(q["question"], max(KS), mode)
                    if mode == "hybrid":
                        latencies.append(time.perf_counter() - started)
                    runs[mode].append((q["category"], q["evidence"], ranked))
            reference = PlainBM25(sample)
            for q in sample["qa"]:
                runs["bm25-ref"].append((q["category"], q["evidence"], reference.search(q["question"], max(KS))))
            if hasattr(backend, "close"):
                backend.close()
    print(f"LoCoMo dev split, {sum(len(s['qa']) for s in samples)} questions, path={args.path}, "
          f"captions={args.captions}, model={cache.embedder.model_id}")
    print(score(runs))
    if latencies:
        lat = np.array(latencies) * 1000
        print(f"hybrid search latency (query embedding excluded): p50 {np.percentile(lat, 50):.2f} ms, "
              f"p95 {np.percentile(lat, 95):.2f} ms over {lat.size} queries")


# ---------------------------------------------------------------------------------------------- latency
def run_latency(sizes: list[int], queries: int = 50) -> None:
    """Search latency on synthetic vaults: 24 index terms per chunk drawn from a Zipfian vocabulary without its
    100 most frequent words (stopwords never reach the index), random unit vectors, 40 messages a conversation."""
    import os

    rng = np.random.default_rng(7)
    vocab = [f"w{i}" for i in range(50_000)]
    zipf = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    zipf[:100] = 0.0
    zipf /= zipf.sum()
    for size in sizes:
        r = Retriever()
        t0 = time.perf_counter()
        batch = 50_000
        for start in range(0, size, batch):
            n = min(batch, size - start)
            words = rng.choice(len(vocab), size=(n, 24), p=zipf)
            docs = [Doc(chunk_id=start + i, message_id=start + i, conversation_id=(start + i) // 40,
                        provider=("chatgpt", "claude", "gemini")[(start + i) % 3], role="user",
                        created_at=1.6e9 + (start + i) * 60.0, text=" ".join(vocab[w] for w in row),
                        position=(start + i) % 40) for i, row in enumerate(words)]
            r.add_documents(docs)
            vecs = rng.standard_normal((n, 384)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            r.add_vectors(list(range(start, start + n)), vecs)
        load_s = time.perf_counter() - t0
        # a few live captures after the load, like a running vault
        for j in range(200):
            r.add_documents([Doc(chunk_id=size + j, message_id=size + j, conversation_id=10**7, provider="chatgpt",
                                 role="user", created_at=1.7e9, text="w1 w20 w300 w4000", position=j)])
        times: dict[str, list[float]] = {"hybrid": [], "keyword": [], "filtered": []}
        cpu: dict[str, list[float]] = {k: [] for k in times}  # CPU time: less distorted by a busy machine
        for _ in range(queries):
            words = rng.choice(len(vocab), size=6, p=zipf)
            q = " ".join(vocab[w] for w in words)
            qv = rng.standard_normal(384).astype(np.float32)
            qv /= np.linalg.norm(qv)
            for label, vec, flt in (("hybrid", qv, None), ("keyword", None, None),
                                    ("filtered", qv, Filters(providers={"claude"}, since=1.6e9 + size * 30.0))):
                t, c = time.perf_counter(), time.process_time()
                r.search(q, vec, 10, flt)
                times[label].append((time.perf_counter() - t) * 1000)
                cpu[label].append((time.process_time() - c) * 1000)
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        times["bare matvec"], cpu["bare matvec"] = [], []  # the floor: one BLAS product over the same vectors
        for _ in range(queries):
            t, c = time.perf_counter(), time.process_time()
            r.vectors.cosines(qv, len(r))
            times["bare matvec"].append((time.perf_counter() - t) * 1000)
            cpu["bare matvec"].append((time.process_time() - c) * 1000)
        print(f"{size:>9,} chunks: load {load_s:.1f}s, index {r.nbytes() / 2**20:.0f} MiB "
              f"(vectors {r.vectors.nbytes() / 2**20:.0f} MiB, postings {r.keyword.nbytes() / 2**20:.0f} MiB), "
              f"max RSS {rss:.0f} MiB; search wall p50/p95 ms (CPU p50): " +
              ", ".join(f"{k} {np.percentile(v, 50):.1f}/{np.percentile(v, 95):.1f} ({np.percentile(cpu[k], 50):.1f})"
                        for k, v in times.items()) +
              f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        del r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", choices=("vault", "direct"), default="vault")
    ap.add_argument("--modes", default="hybrid,keyword,vector")
    ap.add_argument("--captions", action="store_true", help="append BLIP captions to image turns")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="RetrievalConfig override")
    ap.add_argument("--latency", help="comma-separated synthetic vault sizes, e.g. 100000,1000000")
    args = ap.parse_args()
    if args.latency:
        run_latency([int(s) for s in args.latency.split(",")])
    else:
        run_quality(args)


if __name__ == "__main__":
    main()
