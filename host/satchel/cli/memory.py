"""`satchel memories`, `satchel remember`, `satchel memory …`, `satchel llm`: see and shape distilled memory."""

from __future__ import annotations

from typing import Any

import click

from satchel.cli.main import call, emit_json


def _line(memory: dict[str, Any]) -> str:
    pin = "📌 " if memory["pinned"] else ""
    since = (memory["valid_from"] or "")[:10]
    until = (memory["valid_to"] or "")[:10]
    period = f" ({since}…{until})" if until else (f" (since {since})" if since else "")
    origin = f", {len(memory['sources'])} source turns" if memory["sources"] else f", {memory['origin']}"
    return f"[{memory['id']}] {pin}{memory['kind']}: {memory['text']}{period}{origin}"


@click.command()
@click.option("--status", type=click.Choice(["active", "superseded", "deleted", "all"]), default="active",
              show_default=True)
@click.option("--kind", type=click.Choice(["preference", "fact", "project", "instruction", "note"]))
@click.option("--json", "as_json", is_flag=True)
def memories(status: str, kind: str | None, as_json: bool) -> None:
    """List what Satchel has distilled about you (preferences, facts, projects, instructions)."""
    params: dict[str, Any] = {"status": status, "limit": 500}
    if kind:
        params["kind"] = kind
    data = call("memories.list", params)
    if as_json:
        emit_json(data)
        return
    for memory in data["memories"]:
        click.echo(_line(memory))
    click.echo(f"{len(data['memories'])} of {data['total']}", err=True)


@click.command()
@click.argument("text")
@click.option("--kind", type=click.Choice(["preference", "fact", "project", "instruction", "note"]))
@click.option("--pin", is_flag=True, help="Always include it in injected context.")
def remember(text: str, kind: str | None, pin: bool) -> None:
    """Tell Satchel a fact to remember (it supersedes an older one on the same subject)."""
    params: dict[str, Any] = {"text": text}
    if kind:
        params["kind"] = kind
    memory = call("memory.add", params)["memory"]
    if pin:
        memory = call("memory.update", {"id": memory["id"], "pinned": True})["memory"]
    click.echo(_line(memory))


@click.group()
def memory() -> None:
    """Show, pin, edit or delete one memory."""


@memory.command("show")
@click.argument("memory_id", type=int)
def memory_show(memory_id: int) -> None:
    data = call("memory.get", {"id": memory_id})["memory"]
    click.echo(_line(data))
    for source in data["sources"]:
        click.echo(f"  from {source['provider']} · {source['title'] or 'untitled'} · {(source['created_at'] or '')[:10]}")
    for old in data["supersedes"]:
        click.echo(f"  replaced: {old['text']} (until {(old['valid_to'] or '')[:10]})")


@memory.command("pin")
@click.argument("memory_id", type=int)
def memory_pin(memory_id: int) -> None:
    click.echo(_line(call("memory.update", {"id": memory_id, "pinned": True})["memory"]))


@memory.command("unpin")
@click.argument("memory_id", type=int)
def memory_unpin(memory_id: int) -> None:
    click.echo(_line(call("memory.update", {"id": memory_id, "pinned": False})["memory"]))


@memory.command("edit")
@click.argument("memory_id", type=int)
@click.argument("text")
def memory_edit(memory_id: int, text: str) -> None:
    click.echo(_line(call("memory.update", {"id": memory_id, "text": text})["memory"]))


@memory.command("delete")
@click.argument("memory_id", type=int)
def memory_delete(memory_id: int) -> None:
    call("memory.delete", {"id": memory_id})
    click.echo(f"deleted memory {memory_id}")


@click.command()
@click.option("--url", help="OpenAI-compatible base URL on this machine, e.g. http://127.0.0.1:11434/v1")
@click.option("--model", help="Model name the server knows, e.g. llama3.2")
@click.option("--off", is_flag=True, help="Stop using a local model (rule-based memory and summaries).")
def llm(url: str | None, model: str | None, off: bool) -> None:
    """Point Satchel at a local model for summaries and memory extraction (optional)."""
    if off:
        for key in ("llm.base_url", "llm.model"):
            call("settings.set", {"key": key, "value": None})
    if url:
        call("settings.set", {"key": "llm.base_url", "value": url})
    if model:
        call("settings.set", {"key": "llm.model", "value": model})
    settings = call("settings.get")["settings"]
    if settings.get("llm.base_url") and settings.get("llm.model"):
        click.echo(f"local model: {settings['llm.model']} at {settings['llm.base_url']}")
    else:
        click.echo("no local model: summaries and memories are rule-based")


def register(group: click.Group) -> None:
    for command in (memories, remember, memory, llm):
        group.add_command(command)
