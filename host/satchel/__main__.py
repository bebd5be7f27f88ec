"""Entry point. `satchel host` goes straight to the relay so `hello` never waits on click."""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "host":
        from satchel.native.relay import main as host_main

        raise SystemExit(host_main(sys.argv[2:]))
    from satchel.cli.main import cli

    cli()


if __name__ == "__main__":
    main()
