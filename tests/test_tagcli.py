"""``scoutflow-gitops get-tag`` / ``set-tag`` through the real command line entry point."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scoutflow_gitops.cli import main

VALUES = b'# ScoutFlow dev\r\nbackend:\r\n  image:\r\n    tag: "v1" # pinned\r\n  replicas: 2'
NEW_SHA = "1234567890123456789012345678901234567890"


@pytest.fixture
def values(tmp_path: Path) -> Path:
    path = tmp_path / "values.yaml"
    path.write_bytes(VALUES)
    path.chmod(0o640)
    return path


def test_get_tag_prints_the_value(values: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get-tag", str(values), "backend.image.tag"]) == 0
    assert capsys.readouterr() == ("v1\n", "")


def test_get_tag_prints_an_empty_line_for_null(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("image:\n  tag:\n")
    assert main(["get-tag", str(path), "image.tag"]) == 0
    assert capsys.readouterr().out == "\n"


def test_set_tag_rewrites_one_value_and_keeps_the_mode(
    values: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(values.parent.iterdir())
    assert main(["set-tag", str(values), "backend.image.tag", NEW_SHA]) == 0
    assert values.read_bytes() == VALUES.replace(b'"v1"', f'"{NEW_SHA}"'.encode())
    assert stat.S_IMODE(values.stat().st_mode) == 0o640
    assert set(values.parent.iterdir()) == before  # no temporary file left behind
    assert capsys.readouterr().err == f"{values}: backend.image.tag set to {NEW_SHA}\n"


def test_set_tag_replaces_the_file_instead_of_writing_into_it(values: Path) -> None:
    """A reader holding the old file never sees a half-written one: the inode changes."""
    inode = values.stat().st_ino
    assert main(["set-tag", str(values), "backend.image.tag", "v2"]) == 0
    assert values.stat().st_ino != inode


def test_set_tag_through_a_symlink_edits_the_target(values: Path) -> None:
    link = values.parent / "link.yaml"
    link.symlink_to(values.name)
    assert main(["set-tag", str(link), "backend.image.tag", "v2"]) == 0
    assert link.is_symlink()
    assert b'tag: "v2"' in values.read_bytes()


def test_dry_run_prints_a_diff_and_leaves_the_file(
    values: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["set-tag", str(values), "backend.image.tag", "v2", "--dry-run"]) == 0
    assert values.read_bytes() == VALUES
    name = str(values).lstrip("/")
    assert capsys.readouterr().out == (
        f"--- a/{name}\n"
        f"+++ b/{name}\n"
        "@@ -1,5 +1,5 @@\n"
        " # ScoutFlow dev\r\n"
        " backend:\r\n"
        "   image:\r\n"
        '-    tag: "v1" # pinned\r\n'
        '+    tag: "v2" # pinned\r\n'
        "   replicas: 2\n"
        "\\ No newline at end of file\n"
    )


def test_same_value_changes_nothing(values: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mtime = values.stat().st_mtime_ns
    assert main(["set-tag", str(values), "backend.image.tag", "v1"]) == 0
    assert values.read_bytes() == VALUES
    assert values.stat().st_mtime_ns == mtime
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"{values}: backend.image.tag is already v1; nothing changed\n"


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        (
            "backend.image",
            "v2",
            "3: 'backend.image' is a mapping, not a value; name a key inside it",
        ),
        ("backend.image.tag", "a b", "4: 'a b' is not a valid image tag or digest"),
        ("backend.image.digest", "v2", "3: key 'backend.image.digest' not found"),
    ],
)
def test_refusal_exits_2_with_file_and_line_and_leaves_the_file(
    values: Path, capsys: pytest.CaptureFixture[str], key: str, value: str, error: str
) -> None:
    assert main(["set-tag", str(values), key, value]) == 2
    assert values.read_bytes() == VALUES
    out, err = capsys.readouterr()
    assert out == ""
    first, *rest = err.splitlines()
    assert first.startswith(f"scoutflow-gitops: error: {values}:{error}")
    assert all(line.startswith("hint: ") for line in rest)
    assert len(rest) <= 1


def test_refusal_of_a_shared_anchor_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("base: &b\n  tag: v1\nother: *b\n")
    assert main(["set-tag", str(path), "base.tag", "v2"]) == 2
    assert capsys.readouterr().err == (
        f"scoutflow-gitops: error: {path}:2: value lies in anchor &b (line 1), which is aliased "
        "at line 3; the edit would change both places\n"
    )
    assert path.read_text() == "base: &b\n  tag: v1\nother: *b\n"


def test_missing_file_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["get-tag", str(missing), "image.tag"]) == 2
    assert capsys.readouterr().err == (
        f"scoutflow-gitops: error: {missing}: cannot read: No such file or directory\n"
    )


def test_failed_replace_leaves_the_file_and_no_temporary(
    values: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    before = set(values.parent.iterdir())
    monkeypatch.setattr(os, "replace", fail)
    assert main(["set-tag", str(values), "backend.image.tag", "v2"]) == 2
    assert capsys.readouterr().err == (
        f"scoutflow-gitops: error: {values}: cannot write: No space left on device\n"
    )
    assert values.read_bytes() == VALUES
    assert set(values.parent.iterdir()) == before
