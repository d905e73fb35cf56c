"""Slash commands in comments and manual dispatches, parsed into intents. Pure.

Only the first line of a comment counts. A first line that does not start with one of our
command words is not for the bot and is ignored without a reply; one that does is parsed
strictly, and anything malformed becomes a ``UserError`` that is answered in the thread.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from scoutflow_gitops.config import Environment, PipelineConfig
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import SHA_RE

# A comment longer than this is not a command anyone typed; it is ignored unread.
MAX_COMMENT_CHARS = 65536
COMMAND_WORDS = ("/promote", "/rollback", "/release", "/quarantine", "/unquarantine")
_ARGUMENT_RE = re.compile(r"\A[A-Za-z0-9._-]{1,64}\Z")

Kind = Literal["promote", "rollback", "release", "help", "bump", "quarantine", "unquarantine"]


@dataclass(frozen=True)
class Command:
    kind: Kind
    environment: str | None = None
    sha: str | None = None

    def text(self) -> str:
        """The command as a person would type it (for replies and PR bodies)."""
        if self.kind == "help":
            return "/promote help"
        if self.kind == "bump":
            return f"bump {self.sha or ''}".strip()
        words = [f"/{self.kind}", self.environment or "", self.sha or ""]
        return " ".join(word for word in words if word)


def first_line_words(body: str) -> list[str]:
    """The words of a comment's first line, the only line a command may stand on."""
    if len(body) > MAX_COMMENT_CHARS:
        return []
    return body.lstrip("\ufeff").split("\n", 1)[0].split()


def addresses_bot(body: str) -> bool:
    """Whether the first line starts with one of the command words (cheap, config-free)."""
    words = first_line_words(body)
    return bool(words) and words[0].lower() in COMMAND_WORDS


def parse_comment(body: str, config: PipelineConfig) -> Command | None:
    """The command in a comment's first line, ``None`` if it holds none."""
    if not addresses_bot(body):
        return None
    words = first_line_words(body)
    word, args = words[0].lower(), words[1:]
    for arg in args:
        if not _ARGUMENT_RE.match(arg):
            raise UserError(
                f"`{word}` does not understand {_quote(arg)}",
                "arguments are an environment name and a full SHA, nothing else; "
                f"usage: {usage(config)}",
            )
    if word == "/promote":
        return _promote(args, config)
    if word == "/rollback":
        return _rollback(args, config)
    if word in ("/quarantine", "/unquarantine"):
        return _quarantine(word.removeprefix("/"), args, config)
    return _release(args, config)


def parse_dispatch(inputs: Mapping[str, str], config: PipelineConfig) -> Command:
    """A manual ``workflow_dispatch`` run: command, environment and an optional SHA."""
    kind = inputs.get("command", "").strip().lower()
    environment = inputs.get("environment", "").strip() or None
    sha = _sha(inputs.get("sha", "").strip() or None)
    if kind == "promote":
        return _promote([environment or "", *([sha] if sha else [])], config)
    if kind == "rollback":
        return _rollback([environment or "", *([sha] if sha else [])], config)
    if kind == "release":
        return _release([environment or ""], config)
    if kind in ("quarantine", "unquarantine"):
        return _quarantine(kind, [sha] if sha else [], config)
    if kind == "bump":
        if sha is None:
            raise UserError("bump needs the sha input: the full commit to deploy to dev and stage")
        return Command("bump", sha=sha)
    raise UserError(
        f"unknown command {_quote(kind)}",
        "choose one of promote, rollback, release, quarantine, unquarantine, bump",
    )


def usage(config: PipelineConfig) -> str:
    gated = [env.name for env in config.environments if env.gate]
    target = gated[0] if gated else "ENV"
    return (
        f"`/promote {target} [SHA]`, `/rollback ENV [SHA]`, `/release ENV`, `/quarantine SHA`, "
        "`/unquarantine SHA` or `/promote help`"
    )


def _promote(args: list[str], config: PipelineConfig) -> Command:
    if args == ["help"]:
        return Command("help")
    if not args or len(args) > 2:
        raise UserError("`/promote` takes an environment and an optional SHA", usage(config))
    env = config.environment(args[0])
    if env is None or env.gate is None:
        gated = ", ".join(e.name for e in config.environments if e.gate) or "none"
        raise UserError(
            f"{_quote(args[0])} is not an environment that is promoted by command",
            f"gated environments: {gated}",
        )
    return Command("promote", env.name, _sha(args[1] if len(args) == 2 else None))


def _rollback(args: list[str], config: PipelineConfig) -> Command:
    if not args or len(args) > 2:
        raise UserError("`/rollback` takes an environment and an optional SHA", usage(config))
    env = _environment(args[0], config)
    return Command("rollback", env.name, _sha(args[1] if len(args) == 2 else None))


def _release(args: list[str], config: PipelineConfig) -> Command:
    if len(args) != 1:
        raise UserError("`/release` takes exactly one environment", usage(config))
    env = _environment(args[0], config)
    if not env.follows_ci:
        raise UserError(f"{env.name} does not follow CI, so it is never on hold")
    return Command("release", env.name)


def _quarantine(kind: str, args: list[str], config: PipelineConfig) -> Command:
    if len(args) != 1:
        raise UserError(f"`/{kind}` takes exactly one full SHA", usage(config))
    return Command("quarantine" if kind == "quarantine" else "unquarantine", sha=_sha(args[0]))


def _environment(name: str, config: PipelineConfig) -> Environment:
    env = config.environment(name)
    if env is None:
        names = ", ".join(e.name for e in config.environments)
        raise UserError(f"unknown environment {_quote(name)}", f"environments: {names}")
    return env


def _sha(value: str | None) -> str | None:
    if value is None:
        return None
    if not SHA_RE.match(value):
        raise UserError(
            f"{_quote(value)} is not a full commit SHA",
            "give all 40 lowercase hex characters, e.g. from `git rev-parse HEAD`",
        )
    return value


def _quote(text: str) -> str:
    """Outside text shown back to people: short, one line, no Markdown power."""
    flat = re.sub(r"[^A-Za-z0-9._/ -]", "?", text)[:64]
    return f"`{flat}`"
