"""The `satchel` command. Vault commands talk to the vault owner, never to the file directly."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from satchel import __version__
from satchel.errors import SatchelError
from satchel.paths import satchel_home


def _client() -> Any:
    from satchel.daemon.client import VaultClient

    return VaultClient(satchel_home())


def call(action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Errors become one clear line on stderr and exit status 1, never a traceback."""
    try:
        with _client() as client:
            return client.call(action, params or {})
    except SatchelError as exc:
        raise click.ClickException(f"{exc.message} [{exc.code}]") from None


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="satchel")
def cli() -> None:
    """Satchel: a local-first memory vault for your LLM chats."""


@cli.command()
def host() -> None:
    """Native-messaging host (started by the browser; speaks framed JSON on stdin/stdout)."""
    from satchel.native.relay import main

    sys.exit(main(sys.argv[2:]))


@cli.command()
def serve() -> None:
    """Run the vault owner in the foreground (normally started on demand)."""
    from satchel.daemon.server import serve as run

    sys.exit(run(satchel_home()))


@cli.command()
def stop() -> None:
    """Stop the running vault owner (it restarts on the next request)."""
    from satchel.daemon.client import VaultClient

    try:
        with VaultClient(satchel_home(), autostart=False) as client:
            client.call("shutdown")
        click.echo("stopped")
    except SatchelError:
        click.echo("not running")


@cli.command()
@click.argument("query")
@click.option("-k", "--limit", "k", default=10, show_default=True, help="How many hits.")
@click.option("--provider", help="Only this provider (chatgpt, claude, ...).")
@click.option("--since", help="ISO date or time.")
@click.option("--until", help="ISO date or time.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def search(query: str, k: int, provider: str | None, since: str | None, until: str | None, as_json: bool) -> None:
    """Search the vault (keyword and meaning)."""
    params = {"query": query, "k": k, "provider": provider, "since": since, "until": until}
    hits = call("search", {key: v for key, v in params.items() if v is not None})["hits"]
    if as_json:
        emit_json(hits)
        return
    if not hits:
        click.echo("No match.")
    for hit in hits:
        when = (hit["created_at"] or "")[:10]
        click.secho(f"{hit['score']:.2f}  {hit['provider']} · {hit['title'] or 'untitled'} · {when} · {hit['role']}",
                    bold=True)
        text = " ".join(hit["text"].split())
        click.echo(f"      {text[:300]}{'…' if len(text) > 300 else ''}")


@cli.command()
@click.argument("prompt")
@click.option("--budget", default=800, show_default=True, help="Token budget of the block.")
@click.option("--json", "as_json", is_flag=True)
def context(prompt: str, budget: int, as_json: bool) -> None:
    """Print the context block Satchel would inject for PROMPT (empty when nothing is relevant)."""
    data = call("context", {"prompt": prompt, "budget_tokens": budget})
    if as_json:
        emit_json(data)
    elif data["text"]:
        click.echo(data["text"])
    else:
        click.echo("Nothing relevant in the vault.", err=True)


@cli.command()
@click.option("--limit", default=50, show_default=True)
@click.option("--offset", default=0)
@click.option("--provider")
@click.option("--json", "as_json", is_flag=True)
def conversations(limit: int, offset: int, provider: str | None, as_json: bool) -> None:
    """List conversations, most recent first."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if provider:
        params["provider"] = provider
    data = call("conversations.list", params)
    if as_json:
        emit_json(data)
        return
    for conv in data["conversations"]:
        click.echo(f"{(conv['updated_at'] or '')[:16]}  {conv['provider']:<11} {conv['message_count']:>5} msgs  "
                   f"{conv['title'] or 'untitled'}  [{conv['id']}]")
    click.echo(f"{len(data['conversations'])} of {data['total']}", err=True)


@cli.command()
@click.argument("provider")
@click.argument("conversation_id")
@click.option("--json", "as_json", is_flag=True)
def show(provider: str, conversation_id: str, as_json: bool) -> None:
    """Print one conversation."""
    data = call("conversation.get", {"provider": provider, "id": conversation_id, "limit": 1000})
    if as_json:
        emit_json(data)
        return
    conv = data["conversation"]
    click.secho(f"{conv['title'] or 'untitled'} ({conv['provider']}, {conv['url'] or 'no url'})", bold=True)
    for message in data["messages"]:
        click.secho(f"\n{message['role']} · {(message['created_at'] or '')[:16]}", fg="cyan")
        click.echo(message["text"])


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def stats(as_json: bool) -> None:
    """Counts, size on disk and embedding backlog."""
    data = call("stats")
    if as_json:
        emit_json(data)
        return
    click.echo(f"vault        {data['path']} ({data['vault_bytes'] / 1e6:.1f} MB)")
    click.echo(f"conversations {data['conversations']}, messages {data['messages']}, chunks {data['chunks']}")
    click.echo(f"embedded     {data['embedded']} ({data['backlog']} waiting) with {data['model'] or 'model loading'}")
    for provider, count in data["providers"].items():
        click.echo(f"  {provider:<12} {count}")


@cli.command()
@click.option("--conversation", nargs=2, metavar="PROVIDER ID", help="Forget one conversation.")
@click.option("--message", nargs=3, metavar="PROVIDER ID MESSAGE_ID", help="Forget one message.")
@click.option("--provider", help="Forget everything captured from one provider.")
@click.option("--all", "everything", is_flag=True, help="Forget everything.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def forget(conversation: tuple[str, str] | None, message: tuple[str, str, str] | None, provider: str | None,
           everything: bool, yes: bool) -> None:
    """Remove conversations from every table and index."""
    if message:
        params: dict[str, Any] = {"scope": "message", "provider": message[0], "id": message[1],
                                  "message_id": message[2]}
    elif conversation:
        params = {"scope": "conversation", "provider": conversation[0], "id": conversation[1]}
    elif provider:
        params = {"scope": "provider", "provider": provider}
    elif everything:
        params = {"scope": "all", "confirm": True}
    else:
        raise click.UsageError("say what to forget: --conversation, --message, --provider or --all")
    if not yes:
        click.confirm(f"Forget {params['scope']} {' '.join(str(v) for v in params.values() if v != params['scope'])}?",
                      abort=True)
    removed = call("forget", params)["removed"]
    click.echo(f"forgot {removed['conversations']} conversations, {removed['messages']} messages")


from satchel.cli import setup as _setup  # noqa: E402  (registers install/uninstall/doctor)

_setup.register(cli)

from satchel.cli import portable as _portable  # noqa: E402

_portable.register(cli)


@cli.command()
def mcp() -> None:
    """Serve the vault to MCP clients (local agents, desktop apps) over stdio."""
    from satchel.mcp_server import main as run

    run()

from satchel.cli import memory as _memory  # noqa: E402

_memory.register(cli)
