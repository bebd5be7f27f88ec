"""Host manifests per browser and OS, written into a temp home; doctor checks them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from satchel.native import install as installer


@pytest.mark.parametrize(("platform", "browser", "suffix"), [
    ("linux", "firefox", ".mozilla/native-messaging-hosts/org.satchel.vault.json"),
    ("linux", "chrome", ".config/google-chrome/NativeMessagingHosts/org.satchel.vault.json"),
    ("linux", "chromium", ".config/chromium/NativeMessagingHosts/org.satchel.vault.json"),
    ("linux", "brave", ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts/org.satchel.vault.json"),
    ("linux", "edge", ".config/microsoft-edge/NativeMessagingHosts/org.satchel.vault.json"),
    ("darwin", "firefox", "Library/Application Support/Mozilla/NativeMessagingHosts/org.satchel.vault.json"),
    ("darwin", "chrome", "Library/Application Support/Google/Chrome/NativeMessagingHosts/org.satchel.vault.json"),
    ("darwin", "edge", "Library/Application Support/Microsoft Edge/NativeMessagingHosts/org.satchel.vault.json"),
])
def test_manifest_locations_per_os(tmp_path, platform, browser, suffix):
    (target,) = installer.targets_for([browser], platform=platform, user_home=tmp_path, satchel_home=tmp_path / "s")
    assert target.manifest_path == tmp_path / suffix and target.registry_key is None


def test_windows_uses_registry_keys(tmp_path):
    targets = installer.targets_for(installer.BROWSERS, platform="win32", user_home=tmp_path, satchel_home=tmp_path)
    keys = {t.browser: t.registry_key for t in targets}
    assert keys["firefox"] == r"Software\Mozilla\NativeMessagingHosts\org.satchel.vault"
    assert keys["chrome"] == r"Software\Google\Chrome\NativeMessagingHosts\org.satchel.vault"
    assert keys["edge"] == r"Software\Microsoft\Edge\NativeMessagingHosts\org.satchel.vault"


def test_windows_launcher_is_a_batch_file(tmp_path):
    launcher = installer.write_launcher(tmp_path, platform="win32", python=r"C:\Python\python.exe")
    assert launcher.suffix == ".bat" and r'"C:\Python\python.exe" -m satchel host %*' in launcher.read_text()


def test_install_writes_every_browser_by_default_with_the_right_keys(tmp_path, satchel_home):
    plan = installer.install(satchel_home, user_home=tmp_path)
    assert {t.browser for t in plan.targets} == set(installer.BROWSERS)
    for target in plan.targets:
        manifest = json.loads(target.manifest_path.read_text())
        assert manifest["name"] == "org.satchel.vault" and manifest["type"] == "stdio"
        assert Path(manifest["path"]) == plan.launcher
        if target.browser == "firefox":
            assert manifest["allowed_extensions"] == [installer.FIREFOX_EXTENSION_ID]
            assert "allowed_origins" not in manifest  # Firefox rejects the manifest otherwise
        else:
            assert manifest["allowed_origins"] == [f"chrome-extension://{installer.CHROMIUM_EXTENSION_ID}/"]
            assert "allowed_extensions" not in manifest


def test_chromium_user_data_dir_gets_its_own_manifest(tmp_path, satchel_home):
    plan = installer.install(satchel_home, ["chromium"], chromium_user_data_dir=tmp_path / "profile")
    assert plan.targets[0].manifest_path == tmp_path / "profile/NativeMessagingHosts/org.satchel.vault.json"


def test_doctor_passes_after_install_and_flags_a_tampered_manifest(tmp_path, satchel_home):
    installer.install(satchel_home, ["firefox", "chromium"], user_home=tmp_path)
    checks = installer.doctor(satchel_home, ["firefox", "chromium"], user_home=tmp_path)
    assert all(c.ok for c in checks), [c.as_dict() for c in checks if not c.ok]
    assert {c.name for c in checks} == {"firefox manifest", "chromium manifest", "host starts", "vault opens"}
    firefox = tmp_path / ".mozilla/native-messaging-hosts/org.satchel.vault.json"
    manifest = json.loads(firefox.read_text())
    manifest["allowed_extensions"] = ["evil@example.com"]
    firefox.write_text(json.dumps(manifest))
    bad = [c for c in installer.doctor(satchel_home, ["firefox"], user_home=tmp_path) if not c.ok]
    assert bad and "allowed_extensions" in bad[0].detail


def test_doctor_reports_missing_manifests(tmp_path, satchel_home):
    checks = installer.doctor(satchel_home, ["edge"], user_home=tmp_path)
    assert not checks[0].ok and "missing" in checks[0].detail and checks[0].fix == "run `satchel install`"


def test_uninstall_removes_what_install_wrote(tmp_path, satchel_home):
    installer.install(satchel_home, user_home=tmp_path)
    removed = installer.uninstall(satchel_home, user_home=tmp_path)
    assert len(removed) == len(installer.BROWSERS) and not any(p.exists() for p in removed)
