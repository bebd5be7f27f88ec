"""Import throughput: a generated ChatGPT-style export → searchable by keyword; messages/s and peak memory.

    python bench/import_bench.py                       # 10,000 conversations / 200,000 messages, 3 runs
    python bench/import_bench.py --conversations 1000 --runs 1

Each run is a fresh process importing into an empty vault (SATCHEL_HOME in a temp dir, fake embedder:
embedding happens in the background after import and is not part of "searchable by keyword"). The
clock stops when `run_import` has returned *and* a keyword search finds a message from the last
conversation. Peak RSS is the importing process's ru_maxrss. A parse-only pass (no vault) shows how
much of the time is reading JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, path, home = sys.argv[1], sys.argv[2], Path(sys.argv[3])
t0 = time.perf_counter()
cpu0 = 0.0
if mode == "parse":
    from satchel.portable.importer import read_file
    kind, recs = read_file(path)
    messages = sum(len(r.messages) for r in recs)
    found = None
else:
    from satchel.portable.importer import run_import
    from satchel.vault.store import Vault
    vault = Vault.open(home, background_embedding=False)
    opened = time.perf_counter()
    _u = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = _u.ru_utime + _u.ru_stime
    result = run_import(vault, path)
    messages = result["messages"]
    hits = vault.search(sys.argv[4], k=5)
    found = any(h["message_id"] == sys.argv[5] for h in hits)
    t0 = opened
elapsed = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu0
peak = usage.ru_maxrss * 1024
try:  # VmHWM is this process's own peak; ru_maxrss can carry the parent's across fork+exec
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
print(json.dumps({"seconds": elapsed, "cpu": cpu, "messages": messages, "peak_rss": peak, "found": found}))
if mode != "parse":
    vault.close()
"""


def generate(path: Path, conversations: int, turns: int) -> tuple[str, str]:
    """Write the export; return (a keyword planted only in the last conversation, that message's id)."""
    from satchel.portable import synth

    marker = "zebrafinchquartz"
    planted: list[str] = []

    def items():
        for index, item in enumerate(synth.iter_chatgpt(conversations, turns=turns, seed=42)):
            if index == conversations - 1:
                node = item["current_node"]
                item["mapping"][node]["message"]["content"]["parts"][0] += " " + marker
                planted.append(node)
            yield item

    synth.write_json_array(path, items())
    return marker, planted[0]


def run_child(mode: str, path: Path, marker: str, message_id: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="satchel-bench-") as home:
        env = {**os.environ, "SATCHEL_HOME": home, "SATCHEL_EMBEDDER": "fake",
               "PYTHONPATH": os.environ.get("SATCHEL_BENCH_PYTHONPATH") or str(ROOT / "host")}
        out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), home, marker, message_id],
                             capture_output=True, text=True, env=env, check=False)
        if out.returncode != 0:
            raise SystemExit(f"{mode} run failed:\n{out.stderr[-4000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=10, help="user/assistant pairs per conversation")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--file", type=Path, help="reuse or keep the generated export here")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="satchel-bench-file-"))
    path = args.file or workdir / "conversations.json"
    t0 = time.perf_counter()
    meta = path.with_name(path.name + ".marker")
    if args.file and path.exists() and meta.exists():
        marker, message_id = meta.read_text().split()
    else:
        marker, message_id = generate(path, args.conversations, args.turns)
        if args.file:
            meta.write_text(f"{marker} {message_id}")
    size_mb = path.stat().st_size / 1e6
    print(f"export: {args.conversations:,} conversations × {2 * args.turns} messages "
          f"({size_mb:.0f} MB), ready in {time.perf_counter() - t0:.1f} s", flush=True)

    rows = []
    for run in range(1, args.runs + 1):
        parse = run_child("parse", path, marker, message_id)
        full = run_child("import", path, marker, message_id)
        if not full["found"]:
            raise SystemExit("the marker was not found by keyword search after the import")
        rows.append((run, parse, full))
        print(f"run {run}: parse {parse['seconds']:.1f} s, import→searchable {full['seconds']:.1f} s "
              f"(CPU {full['cpu']:.1f} s; load average {os.getloadavg()[0]:.1f})", flush=True)

    print()
    print(f"{'run':>3} | {'messages':>9} | {'parse s':>7} | {'to searchable s':>15} | {'CPU s':>6} | "
          f"{'msgs/s':>8} | {'peak RSS MB (import)':>20} | {'peak RSS MB (parse)':>19}")
    print("-" * 110)
    for run, parse, full in rows:
        print(f"{run:>3} | {full['messages']:>9,} | {parse['seconds']:>7.1f} | {full['seconds']:>15.1f} | "
              f"{full['cpu']:>6.1f} | {full['messages'] / full['seconds']:>8,.0f} | {full['peak_rss'] / 1e6:>20.0f} | "
              f"{parse['peak_rss'] / 1e6:>19.0f}")
    med = statistics.median
    seconds = med(f["seconds"] for _, _, f in rows)
    messages = rows[0][2]["messages"]
    print("-" * 110)
    print(f"median: {seconds:.1f} s to searchable ({med(f['cpu'] for _, _, f in rows):.1f} CPU s), {messages / seconds:,.0f} msgs/s, "
          f"peak RSS {med(f['peak_rss'] for _, _, f in rows) / 1e6:.0f} MB import / "
          f"{med(p['peak_rss'] for _, p, _ in rows) / 1e6:.0f} MB parse-only, file {size_mb:.0f} MB "
          f"(targets: < 60 s, < 500 MB)")
    if not args.file:
        path.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
