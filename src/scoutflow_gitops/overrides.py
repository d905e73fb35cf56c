"""Argo CD overrides that would move an environment past its values file (ARGO002, ARGO003).

The bot bumps, and the guard compares, one scalar: ``image_tag_key`` in the environment's
``values_file``. Argo CD has other ways to set what runs, all in the Application, which any PR
author can edit: further value files (merged in order, the later wins), ``helm.values`` and
``helm.valuesObject`` (above the value files, the object above the string) and
``helm.parameters`` / ``helm.fileParameters`` (--set / --set-file, above everything); see
https://argo-cd.readthedocs.io/en/release-3.4/user-guide/helm/ ("Helm Value Precedence").

- ARGO002: the Application loads exactly one value file, ``$values/<values_file>``.
- ARGO003: no parameter, file parameter, ``values`` or ``valuesObject`` reaches the tag key.

Pure: ``findings`` takes the Application's text, ``application_findings`` its parsed tree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from scoutflow_gitops.config import line_of

VALUE_FILES_RULE = "ARGO002"
TAG_OVERRIDE_RULE = "ARGO003"

Parts = list[str | int]


class EnvironmentFiles(Protocol):
    """What the rules need of an environment (``config.Environment`` has both)."""

    @property
    def values_file(self) -> str: ...

    @property
    def image_tag_key(self) -> str: ...


@dataclass(frozen=True)
class Override:
    """One finding: ``validate.Finding`` has the same fields, without importing this module's
    caller (validate imports this module)."""

    path: str
    line: int
    rule: str
    message: str


def findings(application_text: str, env: EnvironmentFiles, path: str) -> list[Override]:
    """The overrides in the Application manifest ``application_text`` (the file at ``path``).

    Text that does not parse is a finding: what cannot be read cannot be trusted.
    """
    try:
        documents = list(YAML(typ="rt", pure=True).load_all(application_text))
    except YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        return [Override(path, 1, "YAML001", f"not valid YAML: {problem}")]
    return [
        finding
        for document in documents
        if isinstance(document, Mapping) and document.get("kind") == "Application"
        for finding in application_findings(document, env, path)
    ]


def application_findings(
    app: Mapping[str, Any], env: EnvironmentFiles, path: str, *, require_own_values: bool = True
) -> list[Override]:
    """ARGO002 and ARGO003 for one Application, parsed as a ruamel round-trip tree.

    ``require_own_values=False`` leaves an Application that does not load its own values file
    to the caller (validate's APP001 reports it); its other value files are then not judged.
    """
    sources = _sources(app)
    found = _value_file_findings(app, sources, env, path, require_own_values)
    tag = _key_parts(env.image_tag_key)
    for where, source in sources:
        helm = source.get("helm")
        if isinstance(helm, Mapping):
            found += _tag_findings(app, [*where, "helm"], helm, tag, env, path)
    return found


def _sources(app: Mapping[str, Any]) -> list[tuple[Parts, Mapping[str, Any]]]:
    """Every source with its place: ``spec.sources[]`` and ``spec.source`` (Argo CD ignores the
    latter when the former is set, but a finding there costs nothing)."""
    spec = app.get("spec")
    if not isinstance(spec, Mapping):
        return []
    found: list[tuple[Parts, Mapping[str, Any]]] = []
    sources = spec.get("sources")
    if isinstance(sources, list):
        found += [
            (["spec", "sources", index], source)
            for index, source in enumerate(sources)
            if isinstance(source, Mapping)
        ]
    source = spec.get("source")
    if isinstance(source, Mapping):
        found.append((["spec", "source"], source))
    return found


def _value_file_findings(
    app: Mapping[str, Any],
    sources: list[tuple[Parts, Mapping[str, Any]]],
    env: EnvironmentFiles,
    path: str,
    require_own_values: bool,
) -> list[Override]:
    own = f"$values/{env.values_file}"
    entries: list[tuple[Parts, Any]] = []
    for where, source in sources:
        helm = source.get("helm")
        value_files = helm.get("valueFiles") if isinstance(helm, Mapping) else None
        if isinstance(value_files, list):
            entries += [
                ([*where, "helm", "valueFiles", index], item)
                for index, item in enumerate(value_files)
            ]
    own_at = next((parts for parts, item in entries if item == own), None)
    found: list[Override] = []
    if own_at is None:
        if not require_own_values:
            return []
        spec_key = "sources" if sources and sources[0][0][1] == "sources" else "source"
        message = f"loads no {own}: its image tag is the one the bot and the guard watch"
        found.append(Override(path, line_of(app, ["spec", spec_key]), VALUE_FILES_RULE, message))
    for parts, item in entries:
        if parts is own_at:
            continue
        # Any other file -- of this repository, of the chart's, of a second ref, a URL -- is
        # merged with the own one, and the later file wins: it could set the tag unwatched.
        message = (
            f"value file {item!r} besides {own}: Helm merges value files in order, so it could "
            f"set {env.image_tag_key} where no bump or guard looks; load only {own}"
        )
        found.append(Override(path, line_of(app, parts), VALUE_FILES_RULE, message))
    return found


def _tag_findings(
    app: Mapping[str, Any],
    where: Parts,
    helm: Mapping[str, Any],
    tag: Parts,
    env: EnvironmentFiles,
    path: str,
) -> list[Override]:
    key = env.image_tag_key

    def finding(parts: Parts, how: str) -> Override:
        message = f"{how}, over {env.values_file}: set {key} only there, where the bot bumps it"
        return Override(path, line_of(app, [*where, *parts]), TAG_OVERRIDE_RULE, message)

    found: list[Override] = []
    for field, flag in (("parameters", "--set"), ("fileParameters", "--set-file")):
        entries = helm.get(field)
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, Mapping) else None
            if isinstance(name, str) and _name_reaches(name, tag):
                how = f"helm.{field} {name!r} sets {key} (Helm {flag})"
                found.append(finding([field, index, "name"], how))
    values = helm.get("values")
    if isinstance(values, str):
        try:
            # Helm reads values as YAML 1.1, as PyYAML does.
            data = pyyaml.safe_load(values)
        except pyyaml.YAMLError:
            found.append(finding(["values"], f"helm.values is not valid YAML and may set {key}"))
        else:
            if _data_reaches(data, tag):
                found.append(finding(["values"], f"helm.values sets {key}"))
    elif _data_reaches(values, tag):
        found.append(finding(["values"], f"helm.values sets {key}"))
    if _data_reaches(helm.get("valuesObject"), tag):
        found.append(finding(["valuesObject"], f"helm.valuesObject sets {key}"))
    return found


def _data_reaches(data: Any, tag: Parts) -> bool:
    """Whether merging ``data`` over the values file changes the value at ``tag``.

    Helm merges maps key by key, but a null deletes the key and anything else (a scalar, a
    list) replaces the whole subtree, so setting any prefix of the tag's path reaches it too.
    """
    node = data
    for part in tag:
        if not isinstance(node, Mapping) or not isinstance(part, str) or part not in node:
            return False
        node = node[part]
        if not isinstance(node, Mapping):
            return True
    return True


def _name_reaches(name: str, tag: Parts) -> bool:
    """Whether a --set name reaches the tag's path: equal to it, a prefix of it or below it.

    Argo CD passes ``name=value`` to Helm escaping commas in the value only, so a name can
    carry further ``key=value`` pairs; each pair's key counts.
    """
    for pair in re.split(r"(?<!\\),", name):
        target = _set_key_parts(pair.split("=", 1)[0].strip())
        shorter = min(len(target), len(tag))
        if target and target[:shorter] == tag[:shorter]:
            return True
    return False


def _set_key_parts(key: str) -> Parts:
    """Helm's --set key syntax: ``.`` separates (``\\.`` does not), ``[n]`` indexes a list."""
    parts: Parts = []
    for segment in re.split(r"(?<!\\)\.", key):
        name, *indexes = segment.split("[")
        parts.append(name.replace("\\.", "."))
        parts.extend(_index(index.rstrip("]")) for index in indexes)
    return parts


def _key_parts(key: str) -> Parts:
    """The pipeline's ``a.b[0].c`` as ``["a", "b", 0, "c"]`` (validate.key_parts; repeated here
    because validate imports this module)."""
    parts: Parts = []
    for segment in key.split("."):
        name, *indexes = segment.split("[")
        parts.append(name)
        parts.extend(int(index.rstrip("]")) for index in indexes)
    return parts


def _index(text: str) -> str | int:
    return int(text) if text.isdigit() else text
