"""`satchel install`, `uninstall`, `doctor`: register the native host with the browsers and check it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from satchel.native import install as installer
from satchel.paths import satchel_home

browser_choice = click.Choice(list(installer.BROWSERS))


def _browsers(names: tuple[str, ...]) -> tuple[str, ...]:
    return names or installer.BROWSERS


@click.command()
@click.option("--browser", "browsers", multiple=True, type=browser_choice,
              help="Only this browser (repeatable). Default: every supported browser.")
@click.option("--chromium-user-data-dir", type=click.Path(path_type=Path),
              help="Write Chromium-family manifests into this profile's NativeMessagingHosts/.")
@click.option("--pin-home", is_flag=True, help="Bake the current SATCHEL_HOME into the launcher.")
def install(browsers: tuple[str, ...], chromium_user_data_dir: Path | None, pin_home: bool) -> None:
    """Register Satchel's native host with the browsers."""
    plan = installer.install(satchel_home(), _browsers(browsers), chromium_user_data_dir=chromium_user_data_dir,
                             pin_home=pin_home)
    click.echo(f"launcher  {plan.launcher}")
    for target in plan.targets:
        where = f" (registry HKCU\\{target.registry_key})" if target.registry_key else ""
        click.echo(f"{target.browser:<9} {target.manifest_path}{where}")


@click.command()
@click.option("--browser", "browsers", multiple=True, type=browser_choice)
@click.option("--chromium-user-data-dir", type=click.Path(path_type=Path))
def uninstall(browsers: tuple[str, ...], chromium_user_data_dir: Path | None) -> None:
    """Remove Satchel's native host manifests (the vault itself is kept)."""
    removed = installer.uninstall(satchel_home(), _browsers(browsers), chromium_user_data_dir=chromium_user_data_dir)
    for path in removed:
        click.echo(f"removed {path}")
    if not removed:
        click.echo("nothing to remove")


@click.command()
@click.option("--browser", "browsers", multiple=True, type=browser_choice)
@click.option("--chromium-user-data-dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def doctor(browsers: tuple[str, ...], chromium_user_data_dir: Path | None, as_json: bool) -> None:
    """Check manifests, extension IDs, that the host starts and that the vault opens."""
    checks = installer.doctor(satchel_home(), _browsers(browsers), chromium_user_data_dir=chromium_user_data_dir)
    if as_json:
        click.echo(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        for check in checks:
            mark = click.style("ok  ", fg="green") if check.ok else click.style("FAIL", fg="red")
            click.echo(f"{mark} {check.name:<18} {check.detail}" + (f"\n     fix: {check.fix}" if check.fix else ""))
    if not all(c.ok for c in checks):
        raise SystemExit(1)


def register(group: click.Group) -> None:
    for command in (install, uninstall, doctor, recover):
        group.add_command(command)


@click.command()
def recover() -> None:
    """Replace a damaged vault by its newest good backup (the damaged file is kept aside)."""
    import fcntl
    import time

    from satchel.daemon.client import VaultClient
    from satchel.errors import SatchelError
    from satchel.vault import backup

    home = satchel_home()
    try:
        with VaultClient(home, autostart=False, timeout=5) as client:
            client.call("shutdown")
    except SatchelError:
        pass  # no owner running
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "vault.lock", "a+") as lock:
        deadline = time.monotonic() + 30
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise click.ClickException("the vault owner did not stop; try again in a minute") from None
                time.sleep(0.1)
        try:
            used = backup.recover(home)
        except SatchelError as exc:
            raise click.ClickException(f"{exc.message} [{exc.code}]") from None
    click.echo(f"restored the vault from {used.name}; the damaged file is kept in {home / backup.DAMAGED_DIR}")
