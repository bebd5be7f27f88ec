"""Native-messaging host manifests: one per browser, for Linux, macOS and Windows.

Firefox manifests take `allowed_extensions` (and reject `allowed_origins`); Chromium-family ones take
`allowed_origins`. Only Satchel's own extension IDs are ever allowed.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satchel.native.framing import decode_payload, encode_frame

HOST_NAME = "org.satchel.vault"
DESCRIPTION = "Satchel: local memory vault for your LLM chats"
# Must match the extension build (build.py checks it): the gecko id, and the id Chromium derives from the key.
FIREFOX_EXTENSION_ID = "satchel@satchel.dev"
CHROMIUM_EXTENSION_ID = "olcbgfjppaidahlpllmgeheoiacgnohh"

FIREFOX = "firefox"
CHROMIUM_FAMILY = ("chrome", "chromium", "brave", "edge")
BROWSERS = (FIREFOX, *CHROMIUM_FAMILY)

_LINUX_DIRS = {
    "firefox": ".mozilla/native-messaging-hosts",
    "chrome": ".config/google-chrome/NativeMessagingHosts",
    "chromium": ".config/chromium/NativeMessagingHosts",
    "brave": ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "edge": ".config/microsoft-edge/NativeMessagingHosts",
}
_MAC_DIRS = {
    "firefox": "Library/Application Support/Mozilla/NativeMessagingHosts",
    "chrome": "Library/Application Support/Google/Chrome/NativeMessagingHosts",
    "chromium": "Library/Application Support/Chromium/NativeMessagingHosts",
    "brave": "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "edge": "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
}
_WINDOWS_KEYS = {
    "firefox": r"Software\Mozilla\NativeMessagingHosts",
    "chrome": r"Software\Google\Chrome\NativeMessagingHosts",
    "chromium": r"Software\Chromium\NativeMessagingHosts",
    "brave": r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts",
    "edge": r"Software\Microsoft\Edge\NativeMessagingHosts",
}


@dataclass(frozen=True, slots=True)
class Target:
    browser: str
    manifest_path: Path
    registry_key: str | None = None  # Windows: HKCU\<key>\<HOST_NAME> names the manifest file


@dataclass(slots=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass(slots=True)
class Plan:
    launcher: Path
    targets: list[Target] = field(default_factory=list)


def targets_for(browsers: tuple[str, ...] | list[str], *, platform: str = sys.platform,
                user_home: Path | None = None, satchel_home: Path,
                chromium_user_data_dir: Path | None = None) -> list[Target]:
    """Where each browser looks for our manifest on `platform` (computable for any OS, for tests)."""
    home = user_home or Path.home()
    found = []
    for browser in browsers:
        if browser not in BROWSERS:
            raise ValueError(f"unknown browser {browser!r}; choose from {', '.join(BROWSERS)}")
        if browser != FIREFOX and chromium_user_data_dir is not None:
            found.append(Target(browser, chromium_user_data_dir / "NativeMessagingHosts" / f"{HOST_NAME}.json"))
        elif platform == "win32":
            found.append(Target(browser, satchel_home / "host" / f"{HOST_NAME}.{browser}.json",
                                _WINDOWS_KEYS[browser] + "\\" + HOST_NAME))
        elif platform == "darwin":
            found.append(Target(browser, home / _MAC_DIRS[browser] / f"{HOST_NAME}.json"))
        else:
            found.append(Target(browser, home / _LINUX_DIRS[browser] / f"{HOST_NAME}.json"))
    return found


def manifest_for(browser: str, launcher: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = {"name": HOST_NAME, "description": DESCRIPTION, "path": str(launcher),
                                "type": "stdio"}
    if browser == FIREFOX:
        manifest["allowed_extensions"] = [FIREFOX_EXTENSION_ID]
    else:
        manifest["allowed_origins"] = [f"chrome-extension://{CHROMIUM_EXTENSION_ID}/"]
    return manifest


def write_launcher(satchel_home: Path, *, platform: str = sys.platform, python: str = sys.executable,
                   pin_home: bool = False) -> Path:
    """A tiny script the browser runs: manifests cannot pass arguments or environment."""
    directory = satchel_home / "host"
    directory.mkdir(parents=True, exist_ok=True)
    if platform == "win32":
        launcher = directory / "satchel-host.bat"
        lines = ["@echo off"]
        if pin_home:
            lines.append(f'if "%SATCHEL_HOME%"=="" set "SATCHEL_HOME={satchel_home}"')
        lines.append(f'"{python}" -m satchel host %*')
        launcher.write_text("\r\n".join(lines) + "\r\n")
        return launcher
    launcher = directory / "satchel-host"
    lines = ["#!/bin/sh"]
    if pin_home:
        lines.append(f'SATCHEL_HOME="${{SATCHEL_HOME:-{satchel_home}}}"; export SATCHEL_HOME')
    lines.append(f'exec {shlex.quote(python)} -m satchel host "$@"')
    launcher.write_text("\n".join(lines) + "\n")
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return launcher


def _registry(key: str, value: str | None) -> None:
    import winreg  # type: ignore[import-not-found]

    if value is None:
        try:
            winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)
        except FileNotFoundError:
            pass
        return
    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as handle:
        winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, value)


def install(satchel_home: Path, browsers: tuple[str, ...] | list[str] = BROWSERS, *,
            user_home: Path | None = None, chromium_user_data_dir: Path | None = None,
            pin_home: bool = False) -> Plan:
    """Write the launcher and one manifest per browser. With no browser named: every one, so a browser
    installed later just works."""
    launcher = write_launcher(satchel_home, pin_home=pin_home)
    plan = Plan(launcher, targets_for(browsers, user_home=user_home, satchel_home=satchel_home,
                                      chromium_user_data_dir=chromium_user_data_dir))
    for target in plan.targets:
        target.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        target.manifest_path.write_text(json.dumps(manifest_for(target.browser, launcher), indent=2) + "\n")
        if target.registry_key and sys.platform == "win32":
            _registry(target.registry_key, str(target.manifest_path))
    return plan


def uninstall(satchel_home: Path, browsers: tuple[str, ...] | list[str] = BROWSERS, *,
              user_home: Path | None = None, chromium_user_data_dir: Path | None = None) -> list[Path]:
    removed = []
    for target in targets_for(browsers, user_home=user_home, satchel_home=satchel_home,
                              chromium_user_data_dir=chromium_user_data_dir):
        if target.manifest_path.exists():
            target.manifest_path.unlink()
            removed.append(target.manifest_path)
        if target.registry_key and sys.platform == "win32":
            _registry(target.registry_key, None)
    return removed


def probe_host(launcher: Path, timeout: float = 10.0, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Start the host as a browser would and ask `hello`. Returns the reply's data."""
    started = time.monotonic()
    proc = subprocess.run(
        [str(launcher), "chrome-extension://doctor/"],
        input=encode_frame({"id": "doctor", "type": "hello", "params": {}}),
        capture_output=True, timeout=timeout, env=env,
    )
    elapsed = time.monotonic() - started
    if len(proc.stdout) < 4:
        raise RuntimeError(f"the host wrote no reply (exit {proc.returncode}): {proc.stderr.decode()[-300:]}")
    length = int.from_bytes(proc.stdout[:4], sys.byteorder)
    reply = decode_payload(proc.stdout[4 : 4 + length])
    if not reply.get("ok"):
        raise RuntimeError(f"the host answered an error: {reply.get('error')}")
    return {**reply["data"], "seconds": round(elapsed, 3)}


def doctor(satchel_home: Path, browsers: tuple[str, ...] | list[str] = BROWSERS, *,
           user_home: Path | None = None, chromium_user_data_dir: Path | None = None) -> list[Check]:
    checks: list[Check] = []
    fix = "run `satchel install`"
    launchers: set[Path] = set()
    for target in targets_for(browsers, user_home=user_home, satchel_home=satchel_home,
                              chromium_user_data_dir=chromium_user_data_dir):
        name = f"{target.browser} manifest"
        if not target.manifest_path.exists():
            checks.append(Check(name, False, f"missing: {target.manifest_path}", fix))
            continue
        try:
            manifest = json.loads(target.manifest_path.read_text())
        except (OSError, ValueError) as exc:
            checks.append(Check(name, False, f"unreadable {target.manifest_path}: {exc}", fix))
            continue
        expected = manifest_for(target.browser, Path(manifest.get("path", "")))
        problems = [f"{key} is {manifest.get(key)!r}, expected {value!r}"
                    for key, value in expected.items() if manifest.get(key) != value]
        if target.browser == FIREFOX and "allowed_origins" in manifest:
            problems.append("Firefox rejects a manifest with allowed_origins")
        launcher = Path(manifest.get("path", ""))
        if not launcher.is_file() or not os.access(launcher, os.X_OK):
            problems.append(f"launcher {launcher} is missing or not executable")
        else:
            launchers.add(launcher)
        checks.append(Check(name, not problems, "; ".join(problems) or str(target.manifest_path),
                            fix if problems else ""))
    for launcher in sorted(launchers):
        try:
            data = probe_host(launcher)
            checks.append(Check("host starts", True,
                                f"{launcher}: host {data.get('host_version')}, protocol {data.get('protocol_version')},"
                                f" hello in {data['seconds'] * 1000:.0f} ms"))
        except Exception as exc:
            checks.append(Check("host starts", False, f"{launcher}: {exc}", "reinstall: pip install satchel"))
    try:
        from satchel.daemon.client import VaultClient

        with VaultClient(satchel_home) as client:
            stats = client.call("stats")
        checks.append(Check("vault opens", True, f"{stats['path']}: {stats['conversations']} conversations, "
                                                 f"{stats['messages']} messages, {stats['backlog']} to embed"))
    except Exception as exc:
        checks.append(Check("vault opens", False, str(exc), "see `satchel doctor --json` and the logs folder"))
    return checks
