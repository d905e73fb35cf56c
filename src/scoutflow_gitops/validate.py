"""``scoutflow-gitops validate``: the checks that keep the GitOps repository deployable.

Each rule is a pure function from the repository's files (``RepoFiles``, plus the git history for
lineage) to a list of ``Finding``; the files and the history are read once, in ``read_repo`` and
``read_lineage_history``. ``docs/validate.md`` lists the rules and what each one guards against.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml as pyyaml
from jsonschema import Draft7Validator, Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from scoutflow_gitops import codeowners, gitlog, messages, overrides
from scoutflow_gitops.config import (
    DEFAULT_CONFIG_PATH,
    Environment,
    PipelineConfig,
    line_of,
    load_config,
)
from scoutflow_gitops.errors import LocatedError, UserError
from scoutflow_gitops.gitlog import FileVersion, HistoryUnavailable

Severity = Literal["error", "warning"]
Parts = Sequence[str | int]

VALUES_SCHEMA_PATH = "schemas/values.schema.json"
YAML_SUFFIXES = (".yml", ".yaml")
# Test fixtures break the rules on purpose; virtual environments hold other projects' YAML.
SKIPPED_PREFIXES = ("tests/fixtures/",)
SKIPPED_DIRS = frozenset({".git", ".venv"})
# Aliases let a few lines expand into an exponential structure ("billion laughs"); a document
# that expands past this many nodes is refused before the schema checks walk it.
MAX_NODES = 500_000
ARGO_API_VERSION = "argoproj.io/v1alpha1"
ARGO_SCHEMAS = {"Application": "application", "AppProject": "appproject"}
SHA_RE = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    message: str
    severity: Severity = "error"

    def text(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}: {self.rule} {prefix}{self.message}"

    def annotation(self) -> str:
        """The GitHub Actions workflow command that shows this finding on the PR's diff."""
        properties = f"file={_escape_property(self.path)},line={self.line},title={self.rule}"
        return f"::{self.severity} {properties}::{messages.escape_command_data(self.message)}"


def _escape_property(value: str) -> str:
    return messages.escape_command_data(value).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class YamlFile:
    """One YAML file, parsed once: round-trip trees for line numbers, plain data for schemas."""

    documents: tuple[Any, ...] = ()
    plain: tuple[Any, ...] = ()
    error: Finding | None = None


@dataclass(frozen=True)
class RepoFiles:
    """What the rules read: the text of the repository's YAML files and of the values schema.

    ``gitops_repository`` (owner/name) is this repository on GitHub when the caller knows it;
    without it APP001 checks only that the environments agree on one values repository.
    """

    texts: Mapping[str, str]
    undecodable: tuple[str, ...] = ()
    gitops_repository: str | None = None
    config_path: str = DEFAULT_CONFIG_PATH

    @cached_property
    def yaml(self) -> Mapping[str, YamlFile]:
        return {path: parse_yaml(path, text) for path, text in self.texts.items() if is_yaml(path)}

    @cached_property
    def config(self) -> PipelineConfig | LocatedError:
        text = self.texts.get(self.config_path)
        if text is None:
            return LocatedError(self.config_path, 1, "pipeline config not found")
        try:
            return load_config(text, self.config_path)
        except LocatedError as exc:
            return exc

    def document(self, path: str) -> tuple[Any, Any] | None:
        """The only document of ``path`` as (round-trip tree, plain data), if it has just one."""
        parsed = self.yaml.get(path)
        if parsed is None or len(parsed.documents) != 1:
            return None
        return parsed.documents[0], parsed.plain[0]

    def environment_values(self) -> Iterator[tuple[Environment, Any, Any]]:
        """Each configured environment with its values file as (round-trip tree, plain data);
        nothing when the config does not load (CONFIG001 reports that)."""
        if isinstance(self.config, LocatedError):
            return
        for env in self.config.environments:
            loaded = self.document(env.values_file)
            if loaded is not None:
                yield env, *loaded


def is_yaml(path: str) -> bool:
    return path.endswith(YAML_SUFFIXES)


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_yaml(path: str, text: str) -> YamlFile:
    parser = YAML(typ="rt", pure=True)
    try:
        documents = tuple(parser.load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        return YamlFile(error=Finding(path, line, "YAML001", f"not valid YAML: {problem}"))
    except YAMLError as exc:
        message = str(exc).splitlines()[0]
        return YamlFile(error=Finding(path, 1, "YAML001", f"not valid YAML: {message}"))
    try:
        budget = [MAX_NODES]
        plain = tuple(to_plain(document, budget) for document in documents)
    except _TooLarge:
        message = f"aliases expand to more than {MAX_NODES} nodes"
        return YamlFile(error=Finding(path, 1, "YAML001", message))
    return YamlFile(documents, plain)


class _TooLarge(Exception):
    pass


def to_plain(node: Any, budget: list[int]) -> Any:
    """Builtin types, the way Helm and Kubernetes see the document (dates stay strings)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    if isinstance(node, Mapping):
        return {str(key): to_plain(value, budget) for key, value in node.items()}
    if isinstance(node, list):
        return [to_plain(item, budget) for item in node]
    # ruamel's ScalarBoolean is an int and jsonschema's "boolean" wants a real bool; its
    # ScalarInt and ScalarFloat become builtins too, so nothing below depends on ruamel types.
    if isinstance(node, ScalarBoolean | bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if node is None:
        return None
    if isinstance(node, date | datetime):
        return node.isoformat()
    if isinstance(node, TaggedScalar):
        return str(node.value)
    return str(node)


def key_parts(key: str) -> list[str | int]:
    """``a.b[0].c`` as ``["a", "b", 0, "c"]`` (the form the pipeline schema allows)."""
    parts: list[str | int] = []
    for segment in key.split("."):
        name, *indexes = segment.split("[")
        parts.append(name)
        parts.extend(int(index.rstrip("]")) for index in indexes)
    return parts


_MISSING = object()


def lookup(node: Any, parts: Parts) -> Any:
    """The value at ``parts``, or ``_MISSING``."""
    for part in parts:
        in_map = isinstance(part, str) and isinstance(node, Mapping) and part in node
        in_list = isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node)
        if not (in_map or in_list):
            return _MISSING
        node = node[part]
    return node


def image_tag(text: str, key: str) -> str | None:
    """The image tag at ``key`` in a values file as text, or None when it cannot be read."""
    try:
        data = pyyaml.load(text, Loader=_FAST_LOADER)
    except pyyaml.YAMLError:
        return None
    value = lookup(data, key_parts(key))
    if value is _MISSING or value is None or isinstance(value, dict | list | bool):
        return None
    return str(value)


# libyaml when PyYAML was built with it: status and lineage parse every past version of a file.
_FAST_LOADER: type[pyyaml.SafeLoader] = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)


# ---------------------------------------------------------------------------------------------
# Rules


def check_yaml(files: RepoFiles) -> list[Finding]:
    """YAML001: every YAML file parses (several documents per file are fine)."""
    findings = [
        Finding(path, 1, "YAML001", "not UTF-8 text") for path in files.undecodable if is_yaml(path)
    ]
    findings += [parsed.error for parsed in files.yaml.values() if parsed.error is not None]
    return findings


def check_config(files: RepoFiles) -> list[Finding]:
    """CONFIG001: the pipeline config loads."""
    config = files.config
    if isinstance(config, LocatedError):
        return [Finding(config.path, config.line, "CONFIG001", config.reason)]
    return []


def check_values(files: RepoFiles) -> list[Finding]:
    """VALUES001: every values file the pipeline names matches schemas/values.schema.json."""
    config = files.config
    if isinstance(config, LocatedError):
        return []
    validator, findings = _values_validator(files.texts.get(VALUES_SCHEMA_PATH))
    for index, env in enumerate(config.environments):
        if env.values_file not in files.texts:
            line = _config_line(files, ["environments", index, "values_file"])
            message = f"values file {env.values_file} of {env.name} not found"
            findings.append(Finding(config.path, line, "VALUES001", message))
            continue
        parsed = files.yaml.get(env.values_file)
        if validator is None or parsed is None or parsed.error is not None:
            continue
        if len(parsed.documents) != 1:
            message = f"has {len(parsed.documents)} YAML documents; Helm reads exactly one"
            findings.append(Finding(env.values_file, 1, "VALUES001", message))
            continue
        tag_path = key_parts(env.image_tag_key)
        for error in validator.iter_errors(parsed.plain[0]):
            parts = [*error.absolute_path, *_unknown_fields(error)[:1]]
            # TAG001 reports a missing or mistyped image tag, with the reason Helm would misread it.
            if tag_path in (parts, [*parts, *_missing_field(error)]):
                continue
            line = line_of(parsed.documents[0], parts)
            message = f"{_field(parts)}: {_describe(error)}"
            findings.append(Finding(env.values_file, line, "VALUES001", message))
    return findings


def _values_validator(text: str | None) -> tuple[Draft202012Validator | None, list[Finding]]:
    def problem(line: int, message: str) -> tuple[None, list[Finding]]:
        return None, [Finding(VALUES_SCHEMA_PATH, line, "VALUES001", message)]

    if text is None:
        return problem(1, "values schema not found: the values files were not checked")
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        return problem(exc.lineno, f"not valid JSON: {exc.msg}")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return problem(1, f"not a valid JSON Schema: {exc.message}")
    return Draft202012Validator(schema), []


def check_image_tags(files: RepoFiles) -> list[Finding]:
    """TAG001: each environment's image tag is a full lowercase commit SHA, stored as a string."""
    findings: list[Finding] = []
    for env, tree, plain in files.environment_values():
        parts = key_parts(env.image_tag_key)
        line = line_of(tree, parts)
        problem = _tag_problem(files.texts[env.values_file], plain, parts, env.image_tag_key)
        if problem:
            findings.append(Finding(env.values_file, line, "TAG001", problem))
    return findings


def _tag_problem(text: str, plain: Any, parts: Parts, key: str) -> str | None:
    value = lookup(plain, parts)
    if value is _MISSING or value is None:
        return f"{key} is missing"
    try:
        yaml11_value = lookup(pyyaml.load(text, Loader=_FAST_LOADER), parts)
    except pyyaml.YAMLError as exc:
        problem = str(exc).splitlines()[0]
        return f"not readable as YAML 1.1 (as Helm's parser reads it): {problem}"
    # Helm reads YAML 1.1, where an all-digit SHA is an int; YAML 1.2 parsers (and Go's) also
    # read "123e456" as a float. Either way the deployed tag would not be the commit's SHA.
    for reading, loaded in (("YAML 1.1", yaml11_value), ("YAML 1.2", value)):
        if not isinstance(loaded, str):
            kind = type(loaded).__name__
            return f"{key} is read as {kind} by {reading}: quote it so it stays a string"
    if not SHA_RE.fullmatch(value):
        return f"{key} {value!r} is not a full 40-character lowercase commit SHA"
    return None


def check_argo_schema(files: RepoFiles) -> list[Finding]:
    """ARGO001: Argo CD Applications and AppProjects match the CRDs' openAPIV3Schema."""
    findings: list[Finding] = []
    for path, parsed in files.yaml.items():
        for tree, plain in zip(parsed.documents, parsed.plain, strict=True):
            if not isinstance(plain, dict) or plain.get("apiVersion") != ARGO_API_VERSION:
                continue
            kind = plain.get("kind")
            if kind not in ARGO_SCHEMAS:
                continue
            errors = argo_validator(str(kind)).iter_errors(plain)
            for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
                parts = [*error.absolute_path, *_unknown_fields(error)[:1]]
                message = f"{kind} {_field(parts)}: {_describe(error)}"
                findings.append(Finding(path, line_of(tree, parts), "ARGO001", message))
    return findings


@cache
def argo_validator(kind: str) -> Draft7Validator:
    name = f"schemas/argocd/{ARGO_SCHEMAS[kind]}.schema.json"
    schema = json.loads(resources.files("scoutflow_gitops").joinpath(name).read_text())
    return Draft7Validator(structural_to_json_schema(schema))


def structural_to_json_schema(node: Any) -> Any:
    """A Kubernetes structural schema as the JSON Schema the API server effectively applies.

    The ``x-kubernetes-*`` extensions mean nothing to jsonschema and are dropped. An object that
    lists its ``properties`` is closed unless it says ``x-kubernetes-preserve-unknown-fields``:
    the API server prunes (and kubectl's strict field validation rejects) unknown fields, so a
    misspelt ``syncPolicy.automatic`` would otherwise pass here and silently do nothing.
    ``x-kubernetes-int-or-string`` fields already carry ``anyOf: [integer, string]``.
    """
    if isinstance(node, list):
        return [structural_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            converted[key] = {name: structural_to_json_schema(s) for name, s in value.items()}
        else:
            converted[key] = structural_to_json_schema(value)
    open_ended = node.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in node and "additionalProperties" not in node and not open_ended:
        converted["additionalProperties"] = False
    return converted


def check_sync_policy(files: RepoFiles) -> list[Finding]:
    """SYNC001: environments that follow CI sync automatically; the others never do."""
    config = files.config
    if isinstance(config, LocatedError):
        return []
    findings: list[Finding] = []
    for index, env in enumerate(config.environments):
        if env.application is None:
            if env.follows_ci:
                line = _config_line(files, ["environments", index, "name"])
                message = f"{env.name} follows CI but names no Argo CD application"
                findings.append(Finding(config.path, line, "SYNC001", message))
            continue
        if env.application not in files.texts:
            line = _config_line(files, ["environments", index, "application"])
            message = f"application {env.application} of {env.name} not found"
            findings.append(Finding(config.path, line, "SYNC001", message))
            continue
        app = _application(files, env.application)
        if app is None:
            parsed = files.yaml.get(env.application)
            if parsed is not None and parsed.error is None:
                message = f"no Argo CD Application in {env.application}"
                findings.append(Finding(env.application, 1, "SYNC001", message))
            continue
        findings += _sync_problems(env, env.application, *app)
    return findings


def _sync_problems(env: Environment, path: str, tree: Any, app: dict[str, Any]) -> list[Finding]:
    def finding(parts: Parts, message: str, severity: Severity = "error") -> Finding:
        return Finding(path, line_of(tree, parts), "SYNC001", message, severity)

    policy = ["spec", "syncPolicy"]
    automated = lookup(app, [*policy, "automated"])
    if not env.follows_ci:
        problems = []
        if automated is not _MISSING:
            problems.append(
                finding(
                    [*policy, "automated"],
                    f"{env.name} does not follow CI: remove syncPolicy.automated so Argo CD "
                    "syncs it only when an operator asks",
                )
            )
        options = lookup(app, [*policy, "syncOptions"])
        validates = isinstance(options, list) and "Validate=true" in options
        if env.gate is not None and not validates:
            problems.append(
                finding(
                    [*policy, "syncOptions"],
                    f"gated environment {env.name} should sync with Validate=true in syncOptions",
                    "warning",
                )
            )
        return problems
    if not isinstance(automated, dict):
        return [
            finding(
                policy,
                f"{env.name} follows CI but has no syncPolicy.automated: "
                "Argo CD would not deploy what the bot merges",
            )
        ]
    problems = []
    if automated.get("enabled") is False:
        problems.append(finding([*policy, "automated", "enabled"], "automated sync is disabled"))
    for option, why in (
        ("prune", "resources removed from Git would stay in the cluster"),
        ("selfHeal", "manual changes in the cluster would not be reverted"),
    ):
        if automated.get(option) is not True:
            message = f"{env.name} follows CI: syncPolicy.automated.{option} must be true ({why})"
            problems.append(finding([*policy, "automated", option], message))
    return problems


def check_app_wiring(files: RepoFiles) -> list[Finding]:
    """APP001: each Application deploys its own environment's values into its own namespace."""
    config = files.config
    if isinstance(config, LocatedError):
        return []
    apps = [
        (env, env.application, *app)
        for env in config.environments
        if env.application is not None and (app := _application(files, env.application)) is not None
    ]
    refs = [ref for *_, plain in apps if (ref := _values_ref(plain)) is not None]
    # Without being told which repository this is, the environments must at least agree on one
    # repository and one revision for their values.
    expected = ValuesRef(
        normalize_repo(files.gitops_repository)
        if files.gitops_repository
        else _most_common([ref.repository for ref in refs]),
        _most_common([ref.revision for ref in refs]),
    )
    all_values = {env.values_file for env in config.environments}
    findings: list[Finding] = []
    for env, path, tree, plain in apps:
        context = _Wiring(env, path, tree, config.source.repository, expected, all_values)
        findings += _wiring_problems(context, plain)
    return findings


@dataclass(frozen=True)
class ValuesRef:
    """Where an Application's ``ref: values`` source reads: owner/name and git revision."""

    repository: str
    revision: str


@dataclass(frozen=True)
class _Wiring:
    env: Environment
    path: str
    tree: Any
    app_repository: str
    expected: ValuesRef
    all_values: set[str]

    def finding(self, parts: Parts, message: str) -> Finding:
        return Finding(self.path, line_of(self.tree, parts), "APP001", message)


def _wiring_problems(wiring: _Wiring, app: dict[str, Any]) -> list[Finding]:
    env = wiring.env
    problems = []
    namespace = lookup(app, ["spec", "destination", "namespace"])
    if namespace != env.name:
        shown = "unset" if namespace is _MISSING else repr(namespace)
        message = f"destination namespace is {shown}, not {env.name!r}"
        problems.append(wiring.finding(["spec", "destination", "namespace"], message))
    sources_key, sources = _sources(app)
    wanted = f"$values/{env.values_file}"
    found_own = False
    for index, source in enumerate(sources):
        value_files = lookup(source, ["helm", "valueFiles"])
        if not isinstance(value_files, list):
            continue
        where: list[str | int] = ["spec", "sources", index]
        if sources_key == "source":
            where = ["spec", "source"]
        for position, item in enumerate(value_files):
            found_own = found_own or item == wanted
            other = isinstance(item, str) and item != wanted and item.startswith("$values/")
            if other and item.removeprefix("$values/") in wiring.all_values:
                parts = [*where, "helm", "valueFiles", position]
                message = f"{env.name} loads another environment's values ({item})"
                problems.append(wiring.finding(parts, message))
    if not found_own:
        message = f"no source has {wanted} in its helm valueFiles"
        problems.append(wiring.finding(["spec", sources_key], message))
    ref_index = next((i for i, s in enumerate(sources) if s.get("ref") == "values"), None)
    ref = _values_ref(app)
    if ref_index is None or ref is None:
        message = "needs a `ref: values` source for this repository in spec.sources"
        problems.append(wiring.finding(["spec", sources_key], message))
        return problems
    where = ["spec", "sources", ref_index]
    if ref.repository == normalize_repo(wiring.app_repository):
        message = "the `ref: values` source is the application repository, not this one"
        problems.append(wiring.finding([*where, "repoURL"], message))
    elif ref.repository != wiring.expected.repository:
        message = (
            f"the `ref: values` source is {ref.repository}, "
            f"not this repository ({wiring.expected.repository})"
        )
        problems.append(wiring.finding([*where, "repoURL"], message))
    if ref.revision != wiring.expected.revision:
        message = (
            f"the `ref: values` source tracks {ref.revision}, "
            f"the other environments {wiring.expected.revision}"
        )
        problems.append(wiring.finding([*where, "targetRevision"], message))
    return problems


def _sources(app: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    spec = app.get("spec") or {}
    sources = spec.get("sources")
    if isinstance(sources, list):
        return "sources", [s for s in sources if isinstance(s, dict)]
    source = spec.get("source")
    return "source", [source] if isinstance(source, dict) else []


def _values_ref(app: dict[str, Any]) -> ValuesRef | None:
    """The ``ref: values`` source; ``$values/`` works only in a multi-source Application."""
    key, sources = _sources(app)
    source = next((s for s in sources if s.get("ref") == "values"), None)
    if key != "sources" or source is None:
        return None
    # Argo CD reads an empty targetRevision as HEAD, the repository's default branch.
    revision = str(source.get("targetRevision") or "HEAD")
    return ValuesRef(normalize_repo(str(source.get("repoURL", ""))), revision)


def _most_common(values: list[str]) -> str:
    return Counter(values).most_common(1)[0][0] if values else ""


_GITHUB_URL = re.compile(
    r"^(?:https?://|ssh://git@|git@)github\.com[:/]([^/\s]+/[^/\s]+?)(?:\.git)?/?$", re.IGNORECASE
)


def normalize_repo(url: str) -> str:
    """``owner/name`` for a GitHub URL or ``owner/name``, lower case; other URLs as they are."""
    url = url.strip()
    match = _GITHUB_URL.match(url)
    if match:
        return match.group(1).lower()
    if re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", url):
        return url.removesuffix(".git").lower()
    return url


def check_secret_names(files: RepoFiles) -> list[Finding]:
    """SECRET001: each environment reads its own database secret, scoutflow/<env>/database."""
    findings: list[Finding] = []
    for env, tree, plain in files.environment_values():
        parts = ["externalSecrets", "secretName"]
        name = lookup(plain, parts)
        expected = f"scoutflow/{env.name}/database"
        if isinstance(name, str) and name != expected:
            message = f"externalSecrets.secretName of {env.name} is {name!r}, not {expected!r}"
            findings.append(Finding(env.values_file, line_of(tree, parts), "SECRET001", message))
    return findings


# Normalised key endings (lower case, no "_", "-" or ".") that name a credential.
_SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "apikey",
    "accesskey",
    "privatekey",
    "credentials",
)
# Keys whose value names a credential kept elsewhere instead of holding it: Bitnami's
# existingSecret*, image pull secrets, TLS secret names, and GitHub's `id-token: write`
# permission. secretName, secretRef, passwordKey and the like end in no word above anyway.
_REFERENCE_KEY = re.compile(r"^existing|pullsecrets?$|tlssecret$|^idtoken$")
_ASSIGNMENT = re.compile(
    r"""(?:^|(?<=[\s{,#"']))                # a key starts a line, a flow item or a comment
        ["']?(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)["']?
        \s*(?::[ \t]+|=(?!=))                # YAML "key: value", shell or INI "key=value"
        (?P<value>
            "(?:[^"\\]|\\.)*" | '(?:[^']|'')*'
          | \$\{\{.*?\}\} | \{\{.*?\}\} | \$\{[^}]*\}
          | [^\s,{}\[\]\#][^\s,}\]\#]*     # a plain scalar, not a flow collection or comment
        )
    """,
    re.VERBOSE,
)
# Values that are not a credential: YAML nulls and booleans, block scalar headers (the lines
# below are scanned on their own), aliases, and references resolved at run time -- GitHub
# expressions, Helm templates, shell variables and command substitutions, <placeholders>.
_HARMLESS_VALUE = re.compile(
    r"""(?ix)
    (?: | null | ~ | true | false | yes | no | on | off
      | [|>][-+0-9]*
      | \*[\w.-]+
      | \$\{\{.*\}\} | \{\{.*\}\}
      | \$\{[A-Za-z_][A-Za-z0-9_]*\} | \$[A-Za-z_][A-Za-z0-9_]* | \$\(.*
      | <[^<>]+>
    )"""
)
# (pattern, what it is, how many leading characters name its kind without revealing it)
_TOKEN_PATTERNS = (
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id", 4),
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"), "a private key block", 10),
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b"), "a GitHub token", 4),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{50,}"), "a GitHub fine-grained token", 11),
)


def check_credentials(files: RepoFiles) -> list[Finding]:
    """CRED001: no credential in any YAML file, comments included. Never prints the secret."""
    findings: list[Finding] = []
    for path, text in files.texts.items():
        if not is_yaml(path):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            problem = credential_in_line(line)
            if problem:
                findings.append(Finding(path, number, "CRED001", problem))
    return findings


def credential_in_line(line: str) -> str | None:
    for pattern, what, shown in _TOKEN_PATTERNS:
        match = pattern.search(line)
        if match:
            prefix = match.group()[:shown]
            return f"{what} ({prefix}…, redacted): keep it in a secret store, and rotate it"
    for match in _ASSIGNMENT.finditer(line):
        key = match.group("key")
        normalized = re.sub(r"[-_.]", "", key.lower())
        if not normalized.endswith(_SECRET_WORDS) or _REFERENCE_KEY.search(normalized):
            continue
        value = _unquote(match.group("value"))
        if _HARMLESS_VALUE.fullmatch(value):
            continue
        return (
            f"{key!r} holds a literal value ({len(value)} characters, redacted): reference a "
            "secret (External Secrets, ${{ secrets.NAME }}) instead"
        )
    return None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].strip()
    return value


def check_lineage(
    files: RepoFiles, history: Mapping[str, Sequence[FileVersion]] | HistoryUnavailable
) -> list[Finding]:
    """LINEAGE001: a gated environment's tag was its promoted_from environment's tag once.

    ``history`` holds the committed versions of each promoted_from environment's values file.
    Without history the check is skipped with a LINEAGE000 warning, never passed silently.
    """
    config = files.config
    if isinstance(config, LocatedError):
        return []
    findings: list[Finding] = []
    for env in config.environments:
        upstream = config.environment(env.gate.promoted_from) if env.gate else None
        loaded = files.document(env.values_file)
        if upstream is None or loaded is None:
            continue
        tree, plain = loaded
        parts = key_parts(env.image_tag_key)
        tag = lookup(plain, parts)
        if not isinstance(tag, str):
            continue  # TAG001 reports it.
        line = line_of(tree, parts)
        if isinstance(history, HistoryUnavailable):
            message = (
                f"history unavailable ({history.reason}): lineage of {env.name} not checked; "
                f"{gitlog.FETCH_HINT}"
            )
            findings.append(Finding(env.values_file, line, "LINEAGE000", message, "warning"))
            continue
        versions = history.get(upstream.values_file, ())
        if all(image_tag(v.text, upstream.image_tag_key) != tag for v in versions):
            message = (
                f"{env.name} runs {tag[:12]}, which was never {upstream.name}'s "
                f"{upstream.image_tag_key} in the git history: promote only what "
                f"{upstream.name} has run"
            )
            findings.append(Finding(env.values_file, line, "LINEAGE001", message))
    return findings


def check_codeowners(files: RepoFiles) -> list[Finding]:
    """CODEOWNERS000-002: code owners review what gates deploy, never a CI-following bump."""
    if isinstance(files.config, LocatedError):
        return []
    return [Finding(**vars(p)) for p in codeowners.check(files.texts, files.config)]


def check_overrides(files: RepoFiles) -> list[Finding]:
    """ARGO002, ARGO003: no Argo CD override sets the image tag past the values file.

    The rules live in ``overrides``, which the guard shares. An Application that does not load
    its own values file is APP001's finding, so ARGO002 is not repeated for it.
    """
    if isinstance(files.config, LocatedError):
        return []
    return [
        Finding(**vars(o))
        for env in files.config.environments
        if env.application and (app := _application(files, env.application))
        for o in overrides.application_findings(
            app[0], env, env.application, require_own_values=False
        )
    ]


RULES: tuple[Callable[[RepoFiles], list[Finding]], ...] = (
    check_yaml,
    check_config,
    check_values,
    check_image_tags,
    check_argo_schema,
    check_sync_policy,
    check_app_wiring,
    check_overrides,
    check_secret_names,
    check_credentials,
    check_codeowners,
)


def run_rules(
    files: RepoFiles, history: Mapping[str, Sequence[FileVersion]] | HistoryUnavailable
) -> list[Finding]:
    findings = [finding for rule in RULES for finding in rule(files)]
    findings += check_lineage(files, history)
    return sorted(findings, key=lambda f: (f.path, f.line, f.rule, f.message))


# ---------------------------------------------------------------------------------------------
# Helpers shared by the rules


def _application(files: RepoFiles, path: str) -> tuple[Any, dict[str, Any]] | None:
    parsed = files.yaml.get(path)
    if parsed is None:
        return None
    for tree, plain in zip(parsed.documents, parsed.plain, strict=True):
        if isinstance(plain, dict) and plain.get("kind") == "Application":
            return tree, plain
    return None


def _config_line(files: RepoFiles, parts: Parts) -> int:
    loaded = files.document(files.config_path)
    return line_of(loaded[0], parts) if loaded else 1


def _unknown_fields(error: ValidationError) -> list[str]:
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return sorted(str(key) for key in error.instance if key not in known)


def _missing_field(error: ValidationError) -> list[str]:
    """The property a ``required`` error is about (jsonschema reports each one separately)."""
    required = error.validator_value
    if error.validator != "required" or not isinstance(required, list):
        return []
    return [str(name) for name in required if error.message.startswith(repr(name))][:1]


def _describe(error: ValidationError) -> str:
    validator = error.validator
    if validator == "additionalProperties":
        return f"unknown field {', '.join(map(repr, _unknown_fields(error)))}"
    if validator == "required":
        return str(error.message).replace(" is a required property", " is required")
    if validator in ("anyOf", "oneOf") and isinstance(error.schema, dict):
        expected = error.schema.get("description")
        if expected:
            return f"{error.instance!r} is not {expected}"
    return str(error.message)


def _field(parts: Parts) -> str:
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(top level)"


# ---------------------------------------------------------------------------------------------
# Reading the repository (the only I/O) and the command


def read_repo(repo: Path, gitops_repository: str | None = None) -> RepoFiles:
    """The files the rules read: what git would commit in a work tree, else every file."""
    if not repo.is_dir():
        raise UserError(f"{repo} is not a directory")
    names = gitlog.listed_files(repo) if gitlog.is_work_tree(repo) else list(_walk(repo))
    texts: dict[str, str] = {}
    undecodable: list[str] = []
    for name in sorted(names):
        read = is_yaml(name) or name in (VALUES_SCHEMA_PATH, *codeowners.CODEOWNERS_PATHS)
        if _skipped(name) or not read:
            continue
        try:
            data = (repo / name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            continue  # Deleted in the work tree but still in the index.
        try:
            texts[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            undecodable.append(name)
    return RepoFiles(texts, tuple(undecodable), gitops_repository)


def _walk(repo: Path) -> Iterator[str]:
    for directory, subdirs, filenames in os.walk(repo):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        for filename in filenames:
            yield (Path(directory) / filename).relative_to(repo).as_posix()


def _skipped(name: str) -> bool:
    return name.startswith(SKIPPED_PREFIXES) or not SKIPPED_DIRS.isdisjoint(name.split("/"))


def read_lineage_history(
    repo: Path, files: RepoFiles
) -> Mapping[str, Sequence[FileVersion]] | HistoryUnavailable:
    """Past versions of every values file a gated environment is promoted from."""
    config = files.config
    if isinstance(config, LocatedError):
        return {}
    upstream_files = {
        upstream.values_file
        for env in config.environments
        if env.gate and (upstream := config.environment(env.gate.promoted_from))
    }
    try:
        return {path: gitlog.file_history(repo, path) for path in sorted(upstream_files)}
    except HistoryUnavailable as exc:
        return exc


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check the GitOps repository (YAML, values, Argo CD apps, secrets, lineage)",
        description="Check the repository; print one line per finding and exit 1 on any error.",
    )
    parser.add_argument("--repo", type=Path, default=Path("."), help="repository root (.)")
    parser.add_argument(
        "--gitops-repo",
        metavar="OWNER/NAME",
        help="this repository on GitHub: the `ref: values` sources must point at it",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    repo: Path = args.repo
    files = read_repo(repo, args.gitops_repo)
    findings = run_rules(files, read_lineage_history(repo, files))
    if args.format == "json":
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        annotate = os.environ.get("GITHUB_ACTIONS") == "true"
        for finding in findings:
            print(finding.text())
            if annotate:
                print(finding.annotation())
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    checked = len(files.texts) + len(files.undecodable)
    print(
        f"validate: {errors} error(s), {warnings} warning(s) in {checked} file(s)",
        file=sys.stderr,
    )
    return 1 if errors else 0
