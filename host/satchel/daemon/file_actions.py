"""Import and export as vault-owner actions (CLI only: they name files on this machine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from satchel.daemon.dispatch import register
from satchel.daemon.jobs import JOBS
from satchel.errors import InvalidParams
from satchel.vault.store import Vault


def _path(params: dict[str, Any]) -> Path:
    value = params.get("path")
    if not isinstance(value, str) or not value:
        raise InvalidParams("path must be a file path")
    return Path(value).expanduser()


def import_start(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    from satchel.portable.importer import run_import

    path = _path(params)
    if not path.exists():
        raise InvalidParams(f"no such file: {path}")
    return {"job": JOBS.start("import", lambda progress: run_import(vault, path, progress))}


def export_start(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    from satchel.portable.export import run_export

    path = _path(params)
    fmt = params.get("format", "json")
    filters = params.get("filters") or {}
    if not isinstance(filters, dict):
        raise InvalidParams("filters must be an object")
    embeddings = bool(params.get("include_embeddings", False))
    return {"job": JOBS.start("export", lambda progress: run_export(
        vault, path, fmt, filters, progress, include_embeddings=embeddings))}


def job_get(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    job_id = params.get("id")
    if not isinstance(job_id, str):
        raise InvalidParams("id must be a job id")
    return JOBS.get(job_id)


register("import.start", import_start, cli_only=True)
register("export.start", export_start, cli_only=True)
register("job.get", job_get, cli_only=True)
