"""Span edit (``yamledit.set_value``) against a ruamel.yaml round trip, on the largest values file.

Run with ``.venv/bin/python bench/yaml_edit.py [RUNS]``. Both sides set the same image tag in
the same text: ours finds the scalar with ruamel.yaml's event parser and replaces its span; the
round trip loads the file into ruamel.yaml's comment-preserving tree, sets the value and dumps
it. Prints the median time of each and how many lines each changes.
"""

from __future__ import annotations

import difflib
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from scoutflow_gitops.yamledit import parse_key_path, set_value

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "helm-values"
NEW_TAG = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"


def round_trip(text: str, key: str, value: str) -> str:
    yaml = YAML()
    root: Any = yaml.load(text)
    *parents, last = parse_key_path(key)
    node = root
    for part in parents:
        node = node[part]
    node[last] = value
    out = io.StringIO()
    yaml.dump(root, out)
    return out.getvalue()


def changed_lines(old: str, new: str) -> int:
    """Lines that differ, counting a replaced block by its longer side."""
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    return sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )


def median_ms(action: Callable[[], str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else 30
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text())
    path = max((CORPUS / entry["file"] for entry in manifest), key=lambda p: p.stat().st_size)
    entry = next(entry for entry in manifest if entry["file"] == path.name)
    key = entry["tag_paths"][0]
    text = path.read_bytes().decode("utf-8")

    ours = set_value(text, key, NEW_TAG)
    theirs = round_trip(text, key, NEW_TAG)
    ours_ms = median_ms(lambda: set_value(text, key, NEW_TAG), runs)
    theirs_ms = median_ms(lambda: round_trip(text, key, NEW_TAG), runs)

    print(f"{path.name}: {len(text.encode()):,} bytes, {len(text.splitlines()):,} lines; {key}")
    print(f"median of {runs} runs, Python {sys.version.split()[0]}")
    for name, ms, output in (
        ("yamledit.set_value", ours_ms, ours),
        ("ruamel.yaml round trip", theirs_ms, theirs),
    ):
        print(f"  {name:24} {ms:8.1f} ms   {changed_lines(text, output):5} lines changed")
    print(f"  set_value takes {ours_ms / theirs_ms:.2f}x the round trip's time")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
