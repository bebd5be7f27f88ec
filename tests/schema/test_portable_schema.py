"""The portable export schema is the contract: its examples pass or fail as named, and real exports validate."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "shared-schema" / "portable"
EXAMPLES = SCHEMAS / "examples"


def load(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


DOCUMENT = load("satchel-export-1.schema.json")
LINE = load("satchel-export-1.line.schema.json")
REGISTRY = Registry().with_resources(
    [(DOCUMENT["$id"], Resource.from_contents(DOCUMENT)), (LINE["$id"], Resource.from_contents(LINE))]
)


def validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(DOCUMENT if kind == "export" else LINE, registry=REGISTRY)


def examples(outcome: str) -> list[Path]:
    found = sorted(EXAMPLES.glob(f"*.{outcome}.json"))
    assert found, f"no {outcome} examples"
    return found


def test_schemas_are_valid_2020_12():
    Draft202012Validator.check_schema(DOCUMENT)
    Draft202012Validator.check_schema(LINE)


@pytest.mark.parametrize("path", examples("pass"), ids=lambda p: p.name)
def test_pass_examples_validate(path):
    kind = path.name.split("-", 1)[0]
    errors = list(validator(kind).iter_errors(json.loads(path.read_text(encoding="utf-8"))))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("path", examples("fail"), ids=lambda p: p.name)
def test_fail_examples_are_rejected(path):
    kind = path.name.split("-", 1)[0]
    assert not validator(kind).is_valid(json.loads(path.read_text(encoding="utf-8")))


def test_example_content_hashes_match_their_text():
    from satchel.portable.model import content_hash

    doc = json.loads((EXAMPLES / "export-rich.pass.json").read_text(encoding="utf-8"))
    for message in doc["conversations"][0]["messages"]:
        assert message["content_hash"] == content_hash(message["text"])
        for version in message.get("versions", []):
            assert version["content_hash"] == content_hash(version["text"])


@pytest.fixture
def exported(satchel_home, tmp_path):
    from satchel.portable import synth
    from satchel.portable.export import run_export
    from satchel.vault.store import Vault

    vault = Vault.open(satchel_home, background_embedding=False)
    try:
        synth.populate(vault, tmp_path / "fixtures")
        vault.embed_pending()
        run_export(vault, tmp_path / "export.json", "json")
        run_export(vault, tmp_path / "bundle.zip", "zip", include_embeddings=True)
    finally:
        vault.close()
    return tmp_path


def test_a_real_export_of_every_provider_validates(exported):
    doc = json.loads((exported / "export.json").read_text(encoding="utf-8"))
    errors = list(validator("export").iter_errors(doc))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_every_line_of_a_real_bundle_validates(exported):
    with zipfile.ZipFile(exported / "bundle.zip") as zf:
        for member in ("export.jsonl", "embeddings.jsonl"):
            for number, line in enumerate(zf.read(member).decode("utf-8").splitlines(), start=1):
                errors = list(validator("line").iter_errors(json.loads(line)))
                assert not errors, (member, number, [e.message for e in errors[:3]])
