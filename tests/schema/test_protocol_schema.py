"""The protocol schema is the contract: its examples agree in Python and JavaScript, and the real host obeys it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from satchel.errors import ERROR_CODES

from ..host.helpers import HostProcess, conversation

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "shared-schema/protocol/satchel-protocol-1.schema.json"
EXAMPLES = sorted((ROOT / "shared-schema/protocol/examples").glob("*.json"))
SCHEMA = json.loads(SCHEMA_PATH.read_text())


def validator_for(definition: str) -> jsonschema.Draft202012Validator:
    assert definition in SCHEMA["$defs"], f"no $defs entry named {definition}"
    return jsonschema.Draft202012Validator({**SCHEMA, "$ref": f"#/$defs/{definition}"},
                                           format_checker=jsonschema.FormatChecker())


def python_verdict(path: Path) -> bool:
    name = path.name[: -len(".pass.json")] if path.name.endswith(".pass.json") else path.name[: -len(".fail.json")]
    for candidate in (name, name.rsplit(".", 1)[0]):
        if candidate in SCHEMA["$defs"]:
            return validator_for(candidate).is_valid(json.loads(path.read_text()))
    raise AssertionError(f"{path.name} names no schema definition")


def test_schema_is_valid_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_passes_or_fails_as_named_in_python(example):
    assert python_verdict(example) == example.name.endswith(".pass.json")


def test_every_definition_has_pass_and_fail_examples():
    names = {p.name for p in EXAMPLES}
    for definition in SCHEMA["$defs"]:
        if definition in ("timestamp", "conversation_ref"):
            continue
        assert any(n.startswith(definition + ".") and n.endswith(".pass.json") for n in names), definition
        assert any(n.startswith(definition + ".") and n.endswith(".fail.json") for n in names), definition


@pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "node_modules/@cfworker/json-schema").exists(),
                    reason="node and npm dev dependencies (npm ci) are needed for the JavaScript side")
def test_javascript_validator_agrees_with_python():
    out = subprocess.run(["node", str(ROOT / "tests/schema/validate.mjs"), str(SCHEMA_PATH),
                          str(ROOT / "shared-schema/protocol/examples")], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    verdicts = json.loads(out.stdout)
    assert verdicts == {p.name: p.name.endswith(".pass.json") for p in EXAMPLES}


def test_error_codes_match_the_python_table():
    codes = SCHEMA["$defs"]["reply"]["oneOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
    assert codes == list(ERROR_CODES)  # append-only: a new code goes at the end of both


def test_real_host_replies_obey_the_schema(satchel_home):
    host = HostProcess(satchel_home)
    reply_check = validator_for("reply")
    payload = conversation(topic="schema conformance of herbal tea")
    validator_for("capture.params").validate(payload)
    checks = [
        ("hello", {}, "hello.data"),
        ("capture", payload, "capture.data"),
        ("search", {"query": "herbal tea"}, "search.data"),
        ("context", {"prompt": "schema conformance herbal tea"}, "context.data"),
        ("context", {"prompt": "xylophone quantum paperwork"}, "context.data"),
        ("stats", {}, "stats.data"),
    ]
    for action, params, definition in checks:
        reply = host.request(action, params)
        reply_check.validate(reply)
        validator_for(definition).validate(reply["data"])
    reply_check.validate(host.request("nope"))
    host.close()
