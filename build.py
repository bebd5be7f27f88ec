#!/usr/bin/env python3
"""Assemble Satchel's browser extension for Firefox and Chromium from one source tree.

    python build.py              # dist/firefox/ + dist/satchel-firefox.xpi, dist/chromium/ + dist/satchel-chromium.zip
    python build.py --check      # exit 1 if extension/ids.json or an existing dist/ is stale, or the host
                                 # installer (host/satchel/native/install.py) names other extension ids
    python build.py --print-ids  # the extension ids the host manifests must allow

The source is `extension/`: shared ES modules and pages, plus `platform/<browser>/manifest.json` overlays
merged over `manifest.base.json`. Content scripts in MV3 are classic scripts, so the site adapters (plain
ES modules in `extension/adapters/`, also imported as modules by the popup and options pages) are turned
into one classic script, `content/adapters.js`, by the small module linker below. It understands the
static `import`/`export` forms the adapters use and refuses anything else, so a new form fails the build
instead of shipping broken code. The content scripts' matches are the union of the adapters' `matches`.
No bundler, no network, deterministic output (sorted zip entries with a fixed timestamp).
"""

from __future__ import annotations

import argparse
import base64
import filecmp
import hashlib
import json
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "extension"
DIST = ROOT / "dist"
TARGETS = ("firefox", "chromium")
IDS_FILE = SRC / "ids.json"  # committed: what `satchel install` must name
HOST_INSTALL = ROOT / "host" / "satchel" / "native" / "install.py"

# Copied as-is into every target; everything else under extension/ is build input only.
SHIPPED_DIRS = ("adapters", "background", "common", "content", "icons", "options", "popup")
CONTENT_SCRIPTS = (
    "content/adapters.js",  # generated from adapters/*.js
    "content/util.js",
    "content/capture.js",
    "content/editor.js",
    "content/inject.js",
    "content/main.js",
)
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


class BuildError(Exception):
    pass


# ---- manifest ----------------------------------------------------------------------------------
def deep_merge(base: dict, overlay: dict) -> dict:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def chromium_id_from_key(key_b64: str) -> str:
    """Chromium's extension id: the first 128 bits of sha256(DER public key), hex digits mapped to a-p."""
    digest = hashlib.sha256(base64.b64decode(key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def extension_ids() -> dict[str, str]:
    firefox = load_json(SRC / "platform" / "firefox" / "manifest.json")
    chromium = load_json(SRC / "platform" / "chromium" / "manifest.json")
    return {
        "firefox": firefox["browser_specific_settings"]["gecko"]["id"],
        "chromium": chromium_id_from_key(chromium["key"]),
        "host": "org.satchel.vault",
    }


# ---- adapters: ES modules -> one classic script -------------------------------------------------
_IMPORT = re.compile(r'^import\s+(?P<what>[^;]*?)\s+from\s+"(?P<spec>\./[\w./-]+\.js)"\s*;?[ \t]*$', re.M | re.S)
_EXPORT_DECL = re.compile(
    r"^export\s+(?P<kw>const|let|var|function\*?|async\s+function|class)\s+(?P<name>[\w$]+)", re.M
)
_EXPORT_LIST = re.compile(r"^export\s*\{(?P<names>[^}]*)\}\s*;?[ \t]*$", re.M)
_EXPORT_DEFAULT = re.compile(r"^export\s+default\s+", re.M)


def _import_bindings(what: str, module_var: str) -> str:
    what = " ".join(what.split())
    lines = []
    default = None
    named = None
    namespace = None
    m = re.fullmatch(r"(?:([\w$]+)\s*,?\s*)?(?:\{([^}]*)\})?(?:\*\s+as\s+([\w$]+))?", what)
    if not m or not any(m.groups()):
        raise BuildError(f"unsupported import clause: {what!r}")
    default, named, namespace = m.groups()
    if default:
        lines.append(f"const {default} = {module_var}.default;")
    if named is not None:
        parts = []
        for item in filter(None, (p.strip() for p in named.split(","))):
            src, _, alias = item.partition(" as ")
            parts.append(f"{src.strip()}: {alias.strip()}" if alias else src.strip())
        lines.append(f"const {{ {', '.join(parts)} }} = {module_var};")
    if namespace:
        lines.append(f"const {namespace} = {module_var};")
    return " ".join(lines)


def link_module(path: Path, source: str) -> tuple[str, list[str]]:
    """Rewrite one ES module into a function body; returns (body, dependency paths)."""
    deps: list[str] = []

    def rewrite_import(m: re.Match) -> str:
        spec = (path.parent / m["spec"]).resolve().relative_to(SRC.resolve()).as_posix()
        deps.append(spec)
        return _import_bindings(m["what"], f"__require({json.dumps(spec)})")

    body = _IMPORT.sub(rewrite_import, source)
    exported: list[tuple[str, str]] = []
    body = _EXPORT_DECL.sub(lambda m: (exported.append((m["name"], m["name"])), f"{m['kw']} {m['name']}")[1], body)

    def rewrite_list(m: re.Match) -> str:
        for item in filter(None, (p.strip() for p in m["names"].split(","))):
            local, _, alias = item.partition(" as ")
            exported.append(((alias or local).strip(), local.strip()))
        return ""

    body = _EXPORT_LIST.sub(rewrite_list, body)
    body, n_default = _EXPORT_DEFAULT.subn("__exports.default = ", body)
    if n_default > 1:
        raise BuildError(f"{path}: more than one default export")
    leftover = re.search(r"^\s*(import|export)\b.*$", body, re.M)
    if leftover:
        raise BuildError(f"{path}: unsupported module syntax: {leftover.group(0).strip()!r}")
    # Exports are read through getters so hoisted functions and later assignments are both seen.
    getters = "".join(
        f"Object.defineProperty(__exports, {json.dumps(name)}, {{ enumerable: true, get: () => {local} }});\n"
        for name, local in exported
    )
    return getters + body, deps


def bundle_adapters() -> str:
    modules: dict[str, str] = {}
    pending = ["adapters/index.js"]
    while pending:
        spec = pending.pop()
        if spec in modules:
            continue
        path = SRC / spec
        if not path.is_file():
            raise BuildError(f"adapter module not found: {spec}")
        body, deps = link_module(path, path.read_text(encoding="utf-8"))
        modules[spec] = body
        pending.extend(deps)
    parts = [
        "// GENERATED by build.py from extension/adapters/*.js: do not edit. Content scripts are classic\n"
        "// scripts, so the adapter modules are linked here into one scope; the ES modules stay the source.\n"
        '"use strict";\n'
        "var SatchelAdapters = (() => {\n"
        "const __defs = Object.create(null);\n"
        "const __cache = Object.create(null);\n"
        "function __require(spec) {\n"
        "  if (!__cache[spec]) { __cache[spec] = {}; __defs[spec](__cache[spec]); }\n"
        "  return __cache[spec];\n"
        "}\n"
    ]
    for spec in sorted(modules):
        parts.append(f"__defs[{json.dumps(spec)}] = function (__exports) {{\n{modules[spec]}\n}};\n")
    parts.append('return __require("adapters/index.js");\n})();\nglobalThis.SatchelAdapters = SatchelAdapters;\n')
    return "".join(parts)


_MATCHES = re.compile(r"^\s*matches:\s*(\[[^\]]*\])", re.M)


def adapter_matches() -> list[str]:
    """Union of the built-in adapters' match patterns, read from their literal `matches: [...]`."""
    index = (SRC / "adapters" / "index.js").read_text(encoding="utf-8")
    names = re.findall(r'^import\s+[\w$]+\s+from\s+"\./([\w-]+)\.js"', index, re.M)
    patterns: list[str] = []
    for name in names:
        source = (SRC / "adapters" / f"{name}.js").read_text(encoding="utf-8")
        m = _MATCHES.search(source)
        if not m:
            raise BuildError(f"adapters/{name}.js: no literal `matches: [...]` found")
        for pattern in json.loads(re.sub(r",\s*\]", "]", m.group(1))):
            if pattern not in patterns:
                patterns.append(pattern)
    if not patterns:
        raise BuildError("no adapter declares a match pattern")
    return patterns


# ---- assembling ------------------------------------------------------------------------------------
def manifest_for(target: str, matches: list[str]) -> dict:
    manifest = deep_merge(load_json(SRC / "manifest.base.json"), load_json(SRC / "platform" / target / "manifest.json"))
    manifest["content_scripts"] = [
        {"matches": matches, "js": list(CONTENT_SCRIPTS), "run_at": "document_idle", "all_frames": False}
    ]
    return manifest


def assemble(out: Path, target: str, adapters_bundle: str, matches: list[str]) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in SHIPPED_DIRS:
        shutil.copytree(SRC / name, out / name, ignore=shutil.ignore_patterns("*.md", ".*", "__pycache__"))
    (out / "content" / "adapters.js").write_text(adapters_bundle, encoding="utf-8")
    (out / "manifest.json").write_text(json.dumps(manifest_for(target, matches), indent=2) + "\n", encoding="utf-8")


def package(directory: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())


def build(dist: Path) -> dict[str, str]:
    bundle = bundle_adapters()
    matches = adapter_matches()
    dist.mkdir(parents=True, exist_ok=True)
    for target in TARGETS:
        assemble(dist / target, target, bundle, matches)
    package(dist / "firefox", dist / "satchel-firefox.xpi")
    package(dist / "chromium", dist / "satchel-chromium.zip")
    ids = extension_ids()
    (dist / "ids.json").write_text(json.dumps(ids, indent=2) + "\n", encoding="utf-8")
    return ids


def _tree_diff(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    problems = [f"only in {a}: {n}" for n in cmp.left_only] + [f"only in {b}: {n}" for n in cmp.right_only]
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    problems += [f"differs: {(a / n).relative_to(ROOT) if a.is_relative_to(ROOT) else n}" for n in mismatch + errors]
    for sub in cmp.common_dirs:
        problems += _tree_diff(a / sub, b / sub)
    return problems


def host_ids_problems(ids: dict[str, str]) -> list[str]:
    if not HOST_INSTALL.is_file():
        return []
    text = HOST_INSTALL.read_text(encoding="utf-8")
    problems = []
    for const, key in (("FIREFOX_EXTENSION_ID", "firefox"), ("CHROMIUM_EXTENSION_ID", "chromium")):
        m = re.search(rf'^{const}\s*=.*?"([^"]+)"\s*$', text, re.M)
        if not m or m.group(1) != ids[key]:
            problems.append(
                f"{HOST_INSTALL.relative_to(ROOT)}: {const} should be {ids[key]!r}"
                f" (found {m.group(1) if m else 'nothing'!r})"
            )
    return problems


def check() -> list[str]:
    problems: list[str] = []
    ids = extension_ids()
    expected_ids = json.dumps(ids, indent=2) + "\n"
    if not IDS_FILE.is_file() or IDS_FILE.read_text(encoding="utf-8") != expected_ids:
        problems.append(f"{IDS_FILE.relative_to(ROOT)} is stale: run `python build.py`")
    problems += host_ids_problems(ids)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        build(fresh)
        for target in TARGETS:
            if not (DIST / target).is_dir():
                continue  # nothing built yet is not stale; dist/ is never committed
            diff = _tree_diff(fresh / target, DIST / target)
            if diff:
                problems.append(
                    f"dist/{target} is stale ({len(diff)} differences, e.g. {diff[0]}): run `python build.py`"
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify generated files are current; build nothing")
    parser.add_argument("--print-ids", action="store_true", help="print the extension ids as JSON")
    parser.add_argument("--dist", type=Path, default=DIST, help="output directory (default: dist/)")
    args = parser.parse_args(argv)
    try:
        if args.print_ids:
            print(json.dumps(extension_ids(), indent=2))
            return 0
        if args.check:
            problems = check()
            for p in problems:
                print(f"build.py --check: {p}", file=sys.stderr)
            return 1 if problems else 0
        ids = build(args.dist)
        IDS_FILE.write_text(json.dumps(ids, indent=2) + "\n", encoding="utf-8")
        print(f"built {args.dist}/firefox ({ids['firefox']}) and {args.dist}/chromium ({ids['chromium']})")
        for p in host_ids_problems(ids):
            print(f"warning: {p}", file=sys.stderr)
        return 0
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
