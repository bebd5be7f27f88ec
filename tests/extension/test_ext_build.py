"""build.py: one source, two browser targets, stable ids, adapters linked for classic content scripts."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import build  # noqa: E402

NODE = shutil.which("node")


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build.build(out)
    return out


def manifest(dist: Path, target: str) -> dict:
    return json.loads((dist / target / "manifest.json").read_text())


def test_chromium_id_is_derived_from_the_committed_public_key():
    key = json.loads((ROOT / "extension/platform/chromium/manifest.json").read_text())["key"]
    digest = hashlib.sha256(base64.b64decode(key)).hexdigest()[:32]
    expected = "".join("abcdefghijklmnop"[int(c, 16)] for c in digest)
    assert build.extension_ids()["chromium"] == expected
    assert re.fullmatch(r"[a-p]{32}", expected)


def test_committed_ids_file_is_current():
    assert json.loads((ROOT / "extension/ids.json").read_text()) == build.extension_ids()


def test_host_installer_names_exactly_the_built_ids():
    assert build.host_ids_problems(build.extension_ids()) == []


def test_each_target_gets_its_own_background_and_identity(dist):
    firefox, chromium = manifest(dist, "firefox"), manifest(dist, "chromium")
    assert firefox["background"] == {"scripts": ["background/main.js"], "type": "module"}
    assert chromium["background"] == {"service_worker": "background/main.js", "type": "module"}
    gecko = firefox["browser_specific_settings"]["gecko"]
    assert gecko["id"] == "satchel@satchel.dev"
    assert "data_collection_permissions" in gecko
    assert "key" not in firefox and "browser_specific_settings" not in chromium
    for m in (firefox, chromium):
        assert m["manifest_version"] == 3
        assert "nativeMessaging" in m["permissions"]


def test_no_page_can_reach_the_extension(dist):
    for target in build.TARGETS:
        m = manifest(dist, target)
        assert "externally_connectable" not in m
        assert "web_accessible_resources" not in m
        csp = m["content_security_policy"]["extension_pages"]
        assert "unsafe-eval" not in csp and "http" not in csp


def test_content_scripts_run_where_the_adapters_match(dist):
    m = manifest(dist, "chromium")
    (scripts,) = m["content_scripts"]
    assert scripts["js"][0] == "content/adapters.js"
    assert all((dist / "chromium" / path).is_file() for path in scripts["js"])
    assert "https://chatgpt.com/*" in scripts["matches"] and "https://claude.ai/*" in scripts["matches"]
    assert scripts["matches"] == build.adapter_matches()


def test_no_eval_or_remote_code_in_the_extension():
    for path in (ROOT / "extension").rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\beval\s*\(|new\s+Function\s*\(", text), path
        assert not re.search(r"""import\s*\(\s*["']https?:""", text), path


def test_unsupported_module_syntax_fails_the_build(tmp_path):
    with pytest.raises(build.BuildError):
        build.link_module(ROOT / "extension/adapters/x.js", 'export * from "./common.js";\n')


def test_build_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build.build(a)
    build.build(b)
    for name in ("satchel-firefox.xpi", "satchel-chromium.zip"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_check_reports_a_stale_dist(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "DIST", tmp_path / "dist")
    build.build(tmp_path / "dist")
    (tmp_path / "dist/firefox/content/main.js").write_text("// edited by hand\n")
    problems = [p for p in build.check() if "dist/" in p]
    assert problems and "dist/firefox is stale" in problems[0]


LINKED_EQUALS_MODULES = r"""
import vm from "node:vm";
import fs from "node:fs";
import { pathToFileURL } from "node:url";
const [root, bundle] = process.argv.slice(2);
const es = await import(pathToFileURL(root + "/extension/adapters/index.js"));
const ctx = { URL, console };
ctx.globalThis = ctx;
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(bundle, "utf8"), ctx);
const linked = ctx.SatchelAdapters;
const sig = (m) => JSON.stringify(m.ADAPTERS.map((a) => [a.id, a.label, a.matches, typeof a.extract, typeof a.composer]));
const urls = ["https://claude.ai/chat/1", "https://chatgpt.com/c/1", "https://example.org/", "https://poe.com/chat/x"];
const pick = (m) => urls.map((u) => m.adapterForUrl(u)?.id ?? null);
console.log(JSON.stringify({
  same: sig(es) === sig(linked),
  exports: [Object.keys(es).sort(), Object.keys(linked).sort()],
  picks: [pick(es), pick(linked)],
}));
"""


@pytest.mark.skipif(not NODE, reason="node is not installed")
def test_linked_adapters_behave_like_the_es_modules(dist, tmp_path):
    script = tmp_path / "check.mjs"
    script.write_text(LINKED_EQUALS_MODULES)
    out = subprocess.run(
        [NODE, str(script), str(ROOT), str(dist / "firefox/content/adapters.js")],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["same"]
    assert result["exports"][0] == result["exports"][1]
    assert result["picks"][0] == result["picks"][1]


LINTER = ROOT / "node_modules/.bin/addons-linter"


@pytest.mark.skipif(not LINTER.exists(), reason="addons-linter not installed (npm ci)")
def test_mozilla_linter_reports_no_errors_on_the_firefox_build(dist):
    out = subprocess.run([str(LINTER), "--output", "json", str(dist / "firefox")], capture_output=True, text=True)
    report = json.loads(out.stdout)
    assert report["summary"]["errors"] == 0, report["errors"]
