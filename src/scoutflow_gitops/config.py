"""The promotion pipeline, read from ``.github/scoutflow-gitops.yml``.

Everything the bot knows about ScoutFlow comes from this file. It is checked against
``schemas/pipeline.schema.json`` and a few rules a schema cannot say (names that refer to each
other); every error names the file, the line and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from functools import cache
from importlib import resources
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent

from scoutflow_gitops.errors import LocatedError, UserError

DEFAULT_CONFIG_PATH = ".github/scoutflow-gitops.yml"
# Every branch the bot writes lives under this prefix, so one read finds them all.
BOT_BRANCH_PREFIX = "scoutflow-gitops/"
# An environment on hold has a file <env>.yml here on the default branch (see `/rollback`).
HOLDS_DIR = ".github/holds"
# A SHA an environment was rolled back from: never deployed again while its file is here.
QUARANTINE_DIR = ".github/quarantine"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# A pipeline config is a page of YAML; anything far larger is a mistake or an attack.
MAX_CONFIG_BYTES = 256 * 1024

MergeMode = Literal["auto", "direct", "none"]
# How GitHub merges a PR the bot merges (the REST/GraphQL merge method, lower-case).
MergeMethod = Literal["squash", "merge", "rebase"]
Permission = Literal["admin", "maintain", "write", "triage", "read"]
PERMISSION_RANK: Mapping[str, int] = {
    "none": 0,
    "read": 1,
    "triage": 2,
    "write": 3,
    "maintain": 4,
    "admin": 5,
}


@dataclass(frozen=True)
class RequiredWorkflow:
    """A workflow of the source repository that must pass, named by its file.

    The file is what identifies a workflow: GitHub lets two workflow files share one
    ``name:``, so a display name alone could be satisfied by the wrong workflow. ``name`` is
    only how messages call it.
    """

    file: str
    name: str | None = None

    @property
    def label(self) -> str:
        """How people read it: the display name, else the file name."""
        return self.name or self.file.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Source:
    repository: str
    branch: str
    required_workflows: tuple[RequiredWorkflow, ...]

    def required_workflow(self, path: str) -> RequiredWorkflow | None:
        """The required workflow whose file is ``path`` (a run's ``path``, ``@ref`` and all).

        GitHub's REST example also names the repository (``octocat/octo-repo/.github/...``):
        this repository's own prefix is dropped; a workflow of another repository never counts.
        """
        file = workflow_file(path)
        own = f"{self.repository.lower()}/"
        if file.lower().startswith(own):
            file = file[len(own) :]
        return next((w for w in self.required_workflows if w.file == file), None)


def workflow_file(path: str) -> str:
    """A workflow run's ``path`` as a file of the repository.

    GitHub's REST example for a workflow run has ``.github/workflows/build.yml@main``, its
    webhook examples ``.github/workflows/test.yml``: the ref after ``@`` is not part of the file.
    """
    return path.split("@", 1)[0]


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Freeze:
    """No promotion opens from ``start`` until ``end`` (both aware, in the windows' zone)."""

    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class Windows:
    """When promotions may open: the weekdays (0 is Monday) and hours of ``zone``, outside
    every freeze. Rollbacks are never held to them: an incident does not wait."""

    zone: str
    weekdays: tuple[int, ...]
    start: time
    # ``None``: until midnight.
    end: time | None
    freezes: tuple[Freeze, ...]


@dataclass(frozen=True)
class Gate:
    promoted_from: str
    soak_minutes: int
    permission: Permission
    reviewers: tuple[str, ...]
    team_reviewers: tuple[str, ...]
    labels: tuple[str, ...]
    # Who may roll this environment back: in an incident, not necessarily who may promote
    # (the config's default is the gate's own ``permission``).
    rollback_permission: Permission = "maintain"
    windows: Windows | None = None


@dataclass(frozen=True)
class Environment:
    name: str
    values_file: str
    image_tag_key: str
    application: str | None
    follows_ci: bool
    merge: MergeMode
    gate: Gate | None

    @property
    def argocd_app(self) -> str | None:
        """The Argo CD Application's name, taken from its manifest's file name."""
        if self.application is None:
            return None
        return self.application.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")


@dataclass(frozen=True)
class Bump:
    branch: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class PipelineConfig:
    path: str
    source: Source
    bump: Bump
    changelog_limit: int
    environments: tuple[Environment, ...]
    merge_method: MergeMethod = "squash"

    def environment(self, name: str) -> Environment | None:
        return next((env for env in self.environments if env.name == name), None)

    @property
    def ci_environments(self) -> tuple[Environment, ...]:
        """The environments that follow CI automatically, in file order."""
        return tuple(env for env in self.environments if env.follows_ci)


@cache
def pipeline_schema() -> dict[str, Any]:
    text = resources.files("scoutflow_gitops").joinpath("schemas/pipeline.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_config(text: str, path: str = DEFAULT_CONFIG_PATH) -> PipelineConfig:
    """Parse and check a pipeline config; raise ``LocatedError`` on the first problem."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise LocatedError(path, 1, f"file is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    tree = _parse(text, path)
    _check_schema(tree, path)
    config = _build(tree, path)
    _check_references(config, tree, path)
    return config


def _parse(text: str, path: str) -> Any:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        # Aliases let a few lines expand into an exponential structure ("billion laughs"), and
        # explicit tags (!!omap, !!python/...) build types the config has no use for: both are
        # refused before anything is built.
        for event in yaml.parse(text):
            line = event.start_mark.line + 1 if event.start_mark else 1
            if isinstance(event, AliasEvent):
                raise LocatedError(path, line, "YAML aliases (*name) are not allowed here")
            tag = event.tag if isinstance(event, ScalarEvent | CollectionStartEvent) else None
            if tag is not None:
                raise LocatedError(path, line, f"YAML tags ({tag}) are not allowed here")
            # Python refuses to read integers of more than 4300 digits; no setting needs 30.
            if isinstance(event, ScalarEvent) and len(event.value) > 30 and event.value.isdigit():
                raise LocatedError(
                    path, line, f"a number of {len(event.value)} digits is not a usable value"
                )
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise LocatedError(path, line, f"not valid YAML: {problem}") from None
    except YAMLError as exc:
        # The reader refuses control characters and invalid Unicode before any parsing.
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
        raise LocatedError(path, line, f"not valid YAML: {exc}".splitlines()[0]) from None
    except ValueError as exc:
        raise LocatedError(path, 1, f"not a usable value: {exc}".splitlines()[0]) from None
    _check_text(tree, [], path, tree)
    return tree


def _check_text(node: Any, where: list[str | int], path: str, tree: Any) -> None:
    """No string in the config may hold a control character (a newline in a label would
    reach a PR, a line break in a path would reach a commit)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            _check_text(value, [*where, str(key)], path, tree)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _check_text(item, [*where, index], path, tree)
    elif isinstance(node, str) and _CONTROL_RE.search(node):
        raise LocatedError(
            path, line_of(tree, where), f"{_field_name(where)}: holds a control character"
        )


def _check_schema(tree: Any, path: str) -> None:
    validator = Draft202012Validator(pipeline_schema())
    errors = sorted(validator.iter_errors(_plain(tree)), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    field = _field_name(error.absolute_path)
    where = list(error.absolute_path)
    if error.validator == "additionalProperties":
        # Point at the misspelt key itself, not at the mapping that holds it.
        where.append(sorted(_extra_keys(error))[0])
    hint = _workflow_hint(error) if where[:2] == ["source", "required_workflows"] else ""
    raise LocatedError(path, line_of(tree, where), f"{field}: {_describe(error)}", hint)


def _workflow_hint(error: Any) -> str:
    """A required workflow given by its display name: show the form that names its file."""
    if error.validator != "pattern" or not isinstance(error.instance, str):
        return ""
    name = error.instance
    stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "ci"
    return (
        "name each required workflow by its file, with the display name optional: "
        f"`- file: .github/workflows/{stem}.yml` and `name: {name}` under it"
    )


def _extra_keys(error: Any) -> set[str]:
    return set(error.instance) - set(error.schema.get("properties", {}))


def _describe(error: Any) -> str:
    validator = error.validator
    if validator == "additionalProperties":
        extra = sorted(_extra_keys(error))
        return f"unknown field {', '.join(map(repr, extra))}"
    if validator == "required":
        return str(error.message).replace(" is a required property", " is required")
    if validator == "pattern":
        if error.validator_value.startswith("^scoutflow-gitops/"):
            return f"{error.instance!r} must start with scoutflow-gitops/"
        if error.validator_value.startswith("^\\.github/workflows/"):
            return f"{error.instance!r} is not a workflow file (.github/workflows/<file>.yml)"
        return f"{error.instance!r} is not in the expected form"
    if validator == "enum":
        choices = ", ".join(map(str, error.validator_value))
        return f"{error.instance!r} is not one of: {choices}"
    return str(error.message)


def _field_name(parts: Sequence[str | int]) -> str:
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(top level)"


def line_of(tree: Any, parts: Sequence[str | int]) -> int:
    """The 1-based line of the deepest node of ``parts`` that the round-trip tree still has."""
    line = 1
    node = tree
    for part in parts:
        if isinstance(node, CommentedMap) and part in node:
            position = node.lc.key(part)
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            position = node.lc.item(part)
        else:
            break
        if position is None:
            break
        line = position[0] + 1
        node = node[part]
    return line


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


def _build(tree: Any, path: str) -> PipelineConfig:
    source = tree["source"]
    bump = tree.get("bump") or {}
    return PipelineConfig(
        path=path,
        source=Source(
            repository=str(source["repository"]),
            branch=str(source.get("branch", "main")),
            required_workflows=tuple(_workflow(item) for item in source["required_workflows"]),
        ),
        bump=Bump(
            branch=str(bump.get("branch", "scoutflow-gitops/bump-dev-stage")),
            labels=tuple(str(label) for label in bump.get("labels", ())),
        ),
        changelog_limit=int(tree.get("changelog_limit", 20)),
        environments=tuple(
            _located(tree, path, index, item) for index, item in enumerate(tree["environments"])
        ),
        merge_method=tree.get("merge_method", "squash"),
    )


def _located(tree: Any, path: str, index: int, item: Mapping[str, Any]) -> Environment:
    """An environment, with a problem the schema cannot see placed at its line."""
    try:
        return _environment(item)
    except LocatedError:
        raise
    except UserError as exc:
        line = line_of(tree, ["environments", index, "gate", "windows"])
        raise LocatedError(path, line, exc.message, exc.hint) from None


def _workflow(item: str | Mapping[str, Any]) -> RequiredWorkflow:
    if isinstance(item, str):
        return RequiredWorkflow(file=item)
    name = item.get("name")
    return RequiredWorkflow(file=str(item["file"]), name=None if name is None else str(name))


def _environment(item: Mapping[str, Any]) -> Environment:
    gate = item.get("gate")
    return Environment(
        name=str(item["name"]),
        values_file=str(item["values_file"]),
        image_tag_key=str(item["image_tag_key"]),
        application=str(item["application"]) if "application" in item else None,
        follows_ci=bool(item["follows_ci"]),
        merge=item["merge"],
        gate=None
        if gate is None
        else Gate(
            promoted_from=str(gate["promoted_from"]),
            soak_minutes=int(gate.get("soak_minutes", 30)),
            permission=gate.get("permission", "maintain"),
            reviewers=tuple(str(r) for r in gate.get("reviewers", ())),
            team_reviewers=tuple(str(t) for t in gate.get("team_reviewers", ())),
            labels=tuple(str(label) for label in gate.get("labels", ())),
            rollback_permission=gate.get("rollback_permission", gate.get("permission", "maintain")),
            windows=_windows(gate["windows"]) if "windows" in gate else None,
        ),
    )


def _windows(item: Mapping[str, Any]) -> Windows:
    """Built from schema-checked data; a zone or freeze GitHub's runner cannot read is a
    ``UserError`` for the caller to place."""
    name = str(item["time_zone"])
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(
            f"gate.windows.time_zone: {name!r} is not a time zone this machine knows",
            "use an IANA name such as Europe/Berlin (the tzdata package provides them)",
        ) from None
    start_text, end_text = str(item.get("hours", "00:00-24:00")).split("-")
    start = time.fromisoformat(start_text)
    end = None if end_text == "24:00" else time.fromisoformat(end_text)
    if end is not None and end <= start:
        raise UserError(f"gate.windows.hours: {item['hours']} ends before it starts")
    freezes = []
    for freeze in item.get("freezes", ()):
        begins = datetime.fromisoformat(str(freeze["from"])).replace(tzinfo=zone)
        ends = datetime.fromisoformat(str(freeze["until"])).replace(tzinfo=zone)
        if ends <= begins:
            raise UserError(
                f"gate.windows.freezes: {freeze['from']} is not before {freeze['until']}"
            )
        freezes.append(Freeze(begins, ends, str(freeze.get("reason", "")).strip()))
    days = item.get("weekdays", WEEKDAYS)
    return Windows(
        zone=name,
        weekdays=tuple(sorted(WEEKDAYS.index(str(day)) for day in days)),
        start=start,
        end=end,
        freezes=tuple(freezes),
    )


def _check_references(config: PipelineConfig, tree: Any, path: str) -> None:
    seen: set[str] = set()
    for index, workflow in enumerate(config.source.required_workflows):
        if workflow.file in seen:
            where: list[str | int] = ["source", "required_workflows", index]
            raise LocatedError(
                path,
                line_of(tree, where),
                f"{_field_name(where)}: {workflow.file} is required twice",
            )
        seen.add(workflow.file)
    for index, problem, field in _reference_problems(config):
        parts: list[str | int] = ["environments", index, *field]
        line = line_of(tree, parts)
        raise LocatedError(path, line, f"{_field_name(parts)}: {problem}")


def _reference_problems(config: PipelineConfig) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    seen_names: set[str] = set()
    seen_files: set[str] = set()
    names = [env.name for env in config.environments]
    for index, env in enumerate(config.environments):
        if env.name in seen_names:
            yield index, f"environment {env.name!r} is defined twice", ("name",)
        if env.values_file in seen_files:
            yield index, f"{env.values_file} belongs to another environment too", ("values_file",)
        seen_names.add(env.name)
        seen_files.add(env.values_file)
        if env.gate is None:
            continue
        if env.follows_ci:
            yield index, "a gated environment cannot also follow CI", ("follows_ci",)
        if env.gate.promoted_from not in names or env.gate.promoted_from == env.name:
            yield (
                index,
                f"promoted_from names no other environment ({env.gate.promoted_from!r})",
                ("gate", "promoted_from"),
            )
