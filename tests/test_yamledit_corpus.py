"""Every image tag in 23 real chart values files can be set by changing exactly one line.

The files and the tag paths come from tests/fixtures/helm-values/ (see its README.md for where
they come from). For each file the tags are set one after another, each edit checked against the
text before it: one line differs, every other byte is the same, and a YAML 1.1 reader (PyYAML)
sees the same tree except for that one value, now the new string. A YAML 1.2 reader (ruamel.yaml)
then checks the file with all its tags set. Reparsing with ruamel.yaml after every single edit
would make this test several times slower without covering anything more: the one-line check
already pins each edit to its own line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from scoutflow_gitops.errors import LocatedError
from scoutflow_gitops.yamledit import parse_key_path, set_value_bytes

CORPUS = Path(__file__).parent / "fixtures" / "helm-values"
MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "MANIFEST.json").read_text())
HEX_SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
DIGITS_SHA = "1234567890123456789012345678901234567890"

# Tag keys that exist only as comments (`# tag: vX.Y.Z`): set-tag must refuse to insert them.
COMMENTED_OUT_TAGS = [
    ("cert-manager.values.yaml", "image.tag", 191),
    ("cert-manager.values.yaml", "webhook.image.tag", 1035),
    ("cert-manager.values.yaml", "cainjector.image.tag", 1421),
    ("cert-manager.values.yaml", "acmesolver.image.tag", 1492),
    ("cert-manager.values.yaml", "startupapicheck.image.tag", 1662),
]


def tag_paths(entry: dict[str, Any]) -> list[str]:
    return [*entry["tag_paths"], *entry["other_image_tag_paths"]]


def load_1_1(data: bytes) -> Any:
    # libyaml's parser with PyYAML's own YAML 1.1 resolver: the same tree as yaml.safe_load.
    return yaml.load(data.decode("utf-8"), Loader=yaml.CSafeLoader)


def load_1_2(data: bytes) -> Any:
    return YAML(typ="safe", pure=True).load(data.decode("utf-8"))


def assign(tree: Any, key: str, value: str) -> None:
    *parents, last = parse_key_path(key)
    for part in parents:
        tree = tree[part]
    tree[last] = value


def lookup(tree: Any, key: str) -> Any:
    for part in parse_key_path(key):
        tree = tree[part]
    return tree


def test_the_corpus_is_complete() -> None:
    """Guards against a fixture silently going missing: 23 files, 134 tag paths."""
    assert len(MANIFEST) == 23
    assert sum(len(tag_paths(entry)) for entry in MANIFEST) == 134
    assert {path.name for path in CORPUS.glob("*.yaml")} == {e["file"] for e in MANIFEST}


@pytest.mark.parametrize("value", [HEX_SHA, DIGITS_SHA], ids=["hex-sha", "all-digit-sha"])
@pytest.mark.parametrize(
    "entry", [e for e in MANIFEST if tag_paths(e)], ids=lambda entry: entry["file"]
)
def test_every_tag_is_set_by_changing_one_line(entry: dict[str, Any], value: str) -> None:
    original = (CORPUS / entry["file"]).read_bytes()
    data = original
    tree_1_1 = load_1_1(data)
    for key in tag_paths(entry):
        new = set_value_bytes(data, key, value, path=entry["file"])
        old_lines, new_lines = data.splitlines(keepends=True), new.splitlines(keepends=True)
        assert len(new_lines) == len(old_lines), key
        changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
        assert len(changed) == 1, key
        assert value.encode() in new_lines[changed[0]]
        assign(tree_1_1, key, value)
        assert load_1_1(new) == tree_1_1, key
        data = new
    expected_1_2 = load_1_2(original)
    for key in tag_paths(entry):
        assign(expected_1_2, key, value)
    final_1_2 = load_1_2(data)
    assert final_1_2 == expected_1_2
    assert all(type(lookup(final_1_2, key)) is str for key in tag_paths(entry))


@pytest.mark.parametrize(("file", "key", "line"), COMMENTED_OUT_TAGS)
def test_commented_out_tag_is_not_inserted(file: str, key: str, line: int) -> None:
    data = (CORPUS / file).read_bytes()
    with pytest.raises(LocatedError) as caught:
        set_value_bytes(data, key, HEX_SHA, path=file)
    assert caught.value.line == line
    assert caught.value.reason == f"key {key!r} not found: no 'tag' in {key.rsplit('.', 1)[0]}"
