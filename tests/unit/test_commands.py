"""The comment and dispatch command parser: first line only, strict once addressed."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoutflow_gitops.commands import Command, parse_comment, parse_dispatch
from scoutflow_gitops.config import load_config
from scoutflow_gitops.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config((ROOT / ".github/scoutflow-gitops.yml").read_text())
SHA = "1f3c5e7a9b2d4f6081a3c5e7f9b1d3f5a7c9e1b3"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/promote prod", Command("promote", "prod")),
        (f"/promote prod {SHA}", Command("promote", "prod", SHA)),
        ("  /PROMOTE prod  \r\nthanks", Command("promote", "prod")),
        ("\ufeff/Promote prod", Command("promote", "prod")),
        ("/promote help", Command("help")),
        ("/rollback stage", Command("rollback", "stage")),
        (f"/rollback prod {SHA}", Command("rollback", "prod", SHA)),
        ("/release dev", Command("release", "dev")),
    ],
)
def test_commands_are_read_from_the_first_line(body: str, expected: Command) -> None:
    assert parse_comment(body, CONFIG) == expected


@pytest.mark.parametrize(
    "body",
    [
        "",
        "LGTM",
        "please /promote prod",
        "> /promote prod",
        "thanks!\n/promote prod",
        "/pro\u200bmote prod",
        "/promoteprod",
        "x" * 70000 + "\n/promote prod",
    ],
)
def test_text_that_is_not_a_command_is_ignored_silently(body: str) -> None:
    assert parse_comment(body, CONFIG) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("/promote", "takes an environment"),
        ("/promote prod a b", "takes an environment"),
        ("/promote dev", "`dev` is not an environment that is promoted by command"),
        ("/promote prod abc1234", "is not a full commit SHA"),
        (f"/promote prod {SHA.upper()}", "is not a full commit SHA"),
        ("/promote prod; rm -rf /", "does not understand `prod?`"),
        ("/promote prod `id`", "does not understand `?id?`"),
        ("/promote prod\u200b", "does not understand `prod?`"),
        ("/promote prod \u202eevil", "does not understand"),
        ("/rollback", "takes an environment"),
        ("/rollback moon", "unknown environment `moon`"),
        ("/release", "exactly one environment"),
        ("/release prod", "prod does not follow CI"),
    ],
)
def test_malformed_commands_are_user_errors(body: str, message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_comment(body, CONFIG)
    assert message in caught.value.message


def test_an_echoed_argument_is_short_and_inert() -> None:
    with pytest.raises(UserError) as caught:
        parse_comment("/promote prod " + "<img src=x onerror=alert(1)>" * 20, CONFIG)
    assert "<" not in caught.value.message and len(caught.value.message) < 200


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"command": "promote", "environment": "prod"}, Command("promote", "prod")),
        (
            {"command": "promote", "environment": "prod", "sha": SHA},
            Command("promote", "prod", SHA),
        ),
        ({"command": "rollback", "environment": "stage"}, Command("rollback", "stage")),
        ({"command": "release", "environment": "stage"}, Command("release", "stage")),
        ({"command": "bump", "sha": SHA}, Command("bump", sha=SHA)),
    ],
)
def test_dispatch_inputs_become_the_same_commands(
    inputs: dict[str, str], expected: Command
) -> None:
    assert parse_dispatch(inputs, CONFIG) == expected


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"command": "deploy"}, "unknown command"),
        ({"command": "bump"}, "bump needs the sha input"),
        ({"command": "bump", "sha": "HEAD"}, "not a full commit SHA"),
        ({"command": "promote", "environment": "stage"}, "not an environment that is promoted"),
    ],
)
def test_bad_dispatch_inputs_are_user_errors(inputs: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_dispatch(inputs, CONFIG)
    assert message in caught.value.message


def test_commands_print_as_typed() -> None:
    assert Command("promote", "prod", SHA).text() == f"/promote prod {SHA}"
    assert Command("help").text() == "/promote help"


QUARANTINED = "a" * 40


@pytest.mark.parametrize(
    ("body", "command"),
    [
        (f"/quarantine {QUARANTINED}", Command("quarantine", sha=QUARANTINED)),
        (f"/Unquarantine {QUARANTINED} please", None),
        (f"/unquarantine {QUARANTINED}", Command("unquarantine", sha=QUARANTINED)),
    ],
    ids=["quarantine", "extra-words", "unquarantine"],
)
def test_quarantine_commands_take_one_full_sha(body: str, command: Command | None) -> None:
    if command is None:
        with pytest.raises(UserError, match="takes exactly one full SHA"):
            parse_comment(body, CONFIG)
        return
    assert parse_comment(body, CONFIG) == command
    assert command.text() == body


@pytest.mark.parametrize("body", ["/quarantine", "/quarantine abc1234", "/unquarantine prod"])
def test_a_quarantine_command_without_a_full_sha_is_refused(body: str) -> None:
    with pytest.raises(UserError):
        parse_comment(body, CONFIG)


def test_a_manual_run_can_quarantine() -> None:
    inputs = {"command": "quarantine", "environment": "", "sha": QUARANTINED}
    assert parse_dispatch(inputs, CONFIG) == Command("quarantine", sha=QUARANTINED)
