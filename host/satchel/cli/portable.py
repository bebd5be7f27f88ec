"""`satchel import` / `satchel export`: run as jobs in the vault owner, with progress shown here."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from satchel.cli.main import call, emit_json


def _follow(job_id: str, label: str) -> dict[str, Any]:
    """Poll the job, drawing a one-line progress display on stderr; return its result or fail clearly."""
    shown = False
    while True:
        job = call("job.get", {"id": job_id})
        progress = job.get("progress") or {}
        if sys.stderr.isatty() and progress:
            done, total = progress.get("bytes_read") or progress.get("conversations", 0), (
                progress.get("bytes_total") or progress.get("total") or 0)
            pct = f"{100 * done / total:5.1f}% " if total else ""
            click.echo(f"\r{label}: {pct}{progress.get('conversations', 0)} conversations, "
                       f"{progress.get('messages', 0)} messages", nl=False, err=True)
            shown = True
        if job["state"] != "running":
            break
        time.sleep(0.2)
    if shown:
        click.echo(err=True)
    if job["state"] == "failed":
        error = job["error"]
        raise click.ClickException(f"{error['message']} [{error['code']}]")
    return job["result"]


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def import_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Import provider exports (ChatGPT, Claude, Gemini Takeout, Open WebUI) or a Satchel export.

    Each file is imported whole or not at all; importing the same file twice adds nothing."""
    results = []
    for path in files:
        job = call("import.start", {"path": str(path.resolve())})["job"]
        result = _follow(job, f"importing {path.name}")
        results.append(result)
        if not as_json:
            click.echo(f"{path.name}: {result['kind']} export, {result['conversations']} conversations — "
                       f"{result['added']} messages added, {result['updated']} updated, "
                       f"{result['unchanged']} already there ({result['seconds']:.1f} s)")
    if as_json:
        emit_json(results)


@click.command("export")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["json", "jsonl", "zip", "markdown"]), default=None,
              help="Default: from DEST's extension (.json, .jsonl, .zip; a directory means markdown).")
@click.option("--provider", help="Only this provider.")
@click.option("--conversation", nargs=2, metavar="PROVIDER ID", help="Only this conversation.")
@click.option("--since", help="Only conversations updated since this ISO date.")
@click.option("--embeddings", is_flag=True, help="Add embeddings.jsonl (zip format only).")
@click.option("--json", "as_json", is_flag=True)
def export_command(dest: Path, fmt: str | None, provider: str | None, conversation: tuple[str, str] | None,
                   since: str | None, embeddings: bool, as_json: bool) -> None:
    """Export the vault (or part of it) to Satchel's open format or to Markdown."""
    if fmt is None:
        fmt = {".json": "json", ".jsonl": "jsonl", ".zip": "zip"}.get(dest.suffix.lower(), "markdown")
    filters: dict[str, Any] = {}
    if provider:
        filters["provider"] = provider
    if conversation:
        filters["conversation"] = {"provider": conversation[0], "id": conversation[1]}
    if since:
        filters["since"] = since
    job = call("export.start", {"path": str(dest.resolve()), "format": fmt, "filters": filters,
                                "include_embeddings": embeddings})["job"]
    result = _follow(job, f"exporting to {dest}")
    if as_json:
        emit_json(result)
    else:
        click.echo(f"wrote {result['path']}: {result['conversations']} conversations, {result['messages']} messages,"
                   f" {result['memories']} memories ({result['format']})")


def register(group: click.Group) -> None:
    group.add_command(import_command)
    group.add_command(export_command)
