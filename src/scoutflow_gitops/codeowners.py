"""CODEOWNERS as GitHub reads it, checked against the pipeline config.

With "Require review from Code Owners" on, a pull request that changes an owned file waits for
one of that file's owners. So the files that decide what production runs, and how anything
deploys, must be owned, and the values files of the environments that follow CI must not be:
an owner there makes every bump wait for a person.

GitHub's rules (docs.github.com, "About code owners",
https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners):
the file is the first of ``.github/CODEOWNERS``, ``CODEOWNERS``, ``docs/CODEOWNERS``; patterns
follow most gitignore rules, without ``!`` negation or ``[ ]`` ranges, and ``\\#`` escapes a
pattern that starts with ``#``; "the last matching pattern takes the most precedence"; a pattern
with no owners leaves its files without a code owner.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from scoutflow_gitops.config import PipelineConfig

# Where GitHub looks for CODEOWNERS, in this order; the first one found is the only one read.
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
WORKFLOWS_DIR = ".github/workflows/"


@dataclass(frozen=True)
class Rule:
    """One CODEOWNERS line: its 1-based line number, pattern and owners (``@`` kept)."""

    line: int
    pattern: str
    owners: tuple[str, ...]
    regex: re.Pattern[str]


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    rule: str
    message: str
    severity: Literal["error", "warning"] = "error"


def parse(text: str) -> tuple[Rule, ...]:
    """The rules of a CODEOWNERS file in file order. Lines GitHub would skip as invalid
    (``!`` negation, ``[ ]`` ranges) are left out, as GitHub leaves them out."""
    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        pattern = tokens[0]
        if pattern.startswith("!") or "[" in pattern:
            continue
        owners: list[str] = []
        for token in tokens[1:]:
            if token.startswith("#"):
                break  # the rest of the line is a comment
            owners.append(token)
        pattern = pattern.replace("\\#", "#")
        rules.append(Rule(number, pattern, tuple(owners), pattern_regex(pattern)))
    return tuple(rules)


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """gitignore-style matching of a path relative to the repository root."""
    directory = pattern.endswith("/") and len(pattern) > 1
    core = pattern.removeprefix("/").removesuffix("/") if len(pattern) > 1 else pattern
    # A slash at the start or in the middle ties the pattern to the root; otherwise it matches
    # at any depth (`apps/` is any folder named apps).
    anchored = pattern.startswith("/") or "/" in core
    out: list[str] = []
    i = 0
    while i < len(core):
        if core.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif core.startswith("/**", i) and i + 3 == len(core):
            out.append("/.*")
            i += 3
        elif core.startswith("**", i):
            out.append(".*")
            i += 2
        elif core[i] == "*":
            out.append("[^/]*")
            i += 1
        elif core[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(core[i]))
            i += 1
    last = core.rsplit("/", 1)[-1]
    if directory:
        suffix = "/.*"
    elif "*" in last or "?" in last:
        suffix = ""  # GitHub: `docs/*` owns the files in docs/, not those in its subfolders
    else:
        suffix = "(?:/.*)?"  # a plain name owns everything under it when it is a folder
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"{prefix}{''.join(out)}{suffix}")


def deciding_rule(rules: Iterable[Rule], path: str) -> Rule | None:
    """The rule that decides ``path``'s owners: the last one that matches it."""
    decided = None
    for rule in rules:
        if rule.regex.fullmatch(path):
            decided = rule
    return decided


def owners_of(rules: Iterable[Rule], path: str) -> tuple[str, ...]:
    rule = deciding_rule(rules, path)
    return () if rule is None else rule.owners


def find(texts: Mapping[str, str]) -> tuple[str, str] | None:
    """The CODEOWNERS file GitHub uses, as (path, text)."""
    for path in CODEOWNERS_PATHS:
        if path in texts:
            return path, texts[path]
    return None


def must_be_owned(config: PipelineConfig, paths: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(file, why) for each file a person must review: what a gated environment deploys, the
    pipeline, the workflows of this repository (``paths``) and CODEOWNERS itself."""
    for env in config.environments:
        if env.gate is None:
            continue
        yield env.values_file, f"the values file of gated environment {env.name}"
        if env.application is not None:
            yield env.application, f"the Application of gated environment {env.name}"
    yield config.path, "the pipeline config"
    for path in sorted(paths):
        if path.startswith(WORKFLOWS_DIR):
            yield path, "a workflow"


def check(texts: Mapping[str, str], config: PipelineConfig) -> list[Problem]:
    """CODEOWNERS000 (warning): no CODEOWNERS file. CODEOWNERS001: a file that must be
    reviewed has no code owner. CODEOWNERS002: the values file of an environment that follows
    CI has a code owner, so each bump waits for a review."""
    found = find(texts)
    if found is None:
        message = (
            "no CODEOWNERS file (.github/CODEOWNERS, CODEOWNERS or docs/CODEOWNERS): "
            "production changes need no code owner's review"
        )
        return [Problem(CODEOWNERS_PATHS[0], 1, "CODEOWNERS000", message, "warning")]
    path, text = found
    rules = parse(text)
    owned = [*must_be_owned(config, texts), (path, "CODEOWNERS itself")]
    problems: list[Problem] = []
    for file, why in owned:
        rule = deciding_rule(rules, file)
        if rule is not None and rule.owners:
            continue
        where = "matches no pattern" if rule is None else f"is un-owned by {rule.pattern!r}"
        message = f"{file} ({why}) {where}: give it a code owner"
        problems.append(Problem(path, 1 if rule is None else rule.line, "CODEOWNERS001", message))
    for env in config.environments:
        rule = deciding_rule(rules, env.values_file)
        if not env.follows_ci or rule is None or not rule.owners:
            continue
        message = (
            f"{env.values_file} ({env.name} follows CI) is owned by {' '.join(rule.owners)} "
            f"through {rule.pattern!r}, so every bump waits for their review: "
            "add a later line for it with no owners, or narrow the pattern"
        )
        problems.append(Problem(path, rule.line, "CODEOWNERS002", message))
    return problems
