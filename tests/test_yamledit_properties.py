"""Property tests: in generated values files, setting any scalar changes that scalar only.

The files are rendered from a small model (nested block mappings, lists, flow mappings, mixed
quoting, comments that look like keys, blank lines, trailing spaces, values continued on the next
line, empty values, LF or CRLF, an optional BOM and final newline), so every generated file is
valid YAML without anchors or duplicate keys, and set_value must never refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from scoutflow_gitops.yamledit import format_key_path, parse_key_path, set_value

RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
KEYS = st.from_regex(r"[a-z][a-zA-Z0-9_-]{0,8}", fullmatch=True).filter(
    lambda key: key.lower() not in RESERVED
)
PLAIN = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9._-]{0,12}", fullmatch=True),
    st.sampled_from(["1", "1.10", "true", "yes", "~", "null", "0x1f", "1e10", "017", "2001-12-14"]),
)
QUOTED_TEXT = st.text(alphabet="abcXYZ019 .:#,-_[]{}", max_size=12)
SCALAR_TEXT = st.one_of(
    PLAIN,
    QUOTED_TEXT.map(lambda text: f'"{text}"'),
    QUOTED_TEXT.map(lambda text: f"'{text}'"),
)
COMMENT = st.one_of(st.none(), st.sampled_from(["c", "tag: old", "image: {tag: x}", "# x", ""]))
DECORATION = st.sampled_from(["", "# tag: v0", "# image:", "#", "  # key: value  "])
PAD = st.sampled_from(["", "", " ", "   "])
NEW_VALUES = st.one_of(
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,40}", fullmatch=True),
    st.from_regex(r"sha256:[a-f0-9]{64}", fullmatch=True),
    st.sampled_from(
        [
            "1234567890123456789012345678901234567890",
            "1234567e89012345678901234567890123456789",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
            *("1e10", "123e4567", "0x1f", "0o17", "017", "1_000", "1.10", "2001-12-14"),
            *("true", "NO", "on", "y", "null", "Null"),
        ]
    ),
)


@dataclass(frozen=True)
class Scalar:
    text: str  # the value as written; "" for an empty value
    comment: str | None
    continued: bool  # written on its own line below the key
    pad: str


@dataclass(frozen=True)
class FlowMapping:
    entries: tuple[tuple[str, str], ...]
    comment: str | None


@dataclass(frozen=True)
class Entry:
    key: str
    node: Node
    before: tuple[str, ...]  # blank and comment lines above the key


@dataclass(frozen=True)
class Mapping:
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Sequence:
    items: tuple[Scalar | Mapping, ...]
    indented: bool


Node = Scalar | FlowMapping | Mapping | Sequence


@st.composite
def scalars(draw: st.DrawFn, *, allow_empty: bool = True) -> Scalar:
    text = draw(SCALAR_TEXT | st.just("")) if allow_empty else draw(SCALAR_TEXT)
    continued = text != "" and draw(st.booleans())
    return Scalar(text, draw(COMMENT), continued, draw(PAD))


@st.composite
def flow_mappings(draw: st.DrawFn) -> FlowMapping:
    keys = draw(st.lists(KEYS, min_size=1, max_size=3, unique=True))
    return FlowMapping(tuple((key, draw(SCALAR_TEXT)) for key in keys), draw(COMMENT))


@st.composite
def mappings(draw: st.DrawFn, depth: int) -> Mapping:
    keys = draw(st.lists(KEYS, min_size=1, max_size=4, unique=True))
    entries = [
        Entry(key, draw(nodes(depth)), tuple(draw(st.lists(DECORATION, max_size=2))))
        for key in keys
    ]
    return Mapping(tuple(entries))


@st.composite
def sequences(draw: st.DrawFn, depth: int) -> Sequence:
    item = scalars(allow_empty=False) | mappings(depth)
    return Sequence(tuple(draw(st.lists(item, min_size=1, max_size=3))), draw(st.booleans()))


def nodes(depth: int) -> st.SearchStrategy[Node]:
    if depth == 0:
        return scalars() | flow_mappings()
    return scalars() | flow_mappings() | mappings(depth - 1) | sequences(depth - 1)


def comment_suffix(comment: str | None) -> str:
    return "" if comment is None else f" # {comment}"


def render_mapping(mapping: Mapping, indent: int, lines: list[str], first: str | None) -> None:
    """``first`` replaces the indentation of the first key (a list item's "- ")."""
    for number, entry in enumerate(mapping.entries):
        if number == 0 and first is not None:
            lead = first
        else:
            lines.extend(f"{' ' * indent}{line}" if line else "" for line in entry.before)
            lead = " " * indent
        render_entry(entry, indent, lead, lines)


def render_entry(entry: Entry, indent: int, lead: str, lines: list[str]) -> None:
    node, head = entry.node, f"{lead}{entry.key}:"
    if isinstance(node, Scalar):
        if node.continued:
            lines.append(head + comment_suffix(node.comment))
            lines.append(f"{' ' * (indent + 2)}{node.text}{node.pad}")
        else:
            value = f" {node.text}" if node.text else ""
            lines.append(head + value + comment_suffix(node.comment) + node.pad)
    elif isinstance(node, FlowMapping):
        inner = ", ".join(f"{key}: {text}" for key, text in node.entries)
        lines.append(f"{head} {{{inner}}}" + comment_suffix(node.comment))
    elif isinstance(node, Mapping):
        lines.append(head)
        render_mapping(node, indent + 2, lines, None)
    else:
        lines.append(head)
        dash_indent = indent + 2 if node.indented else indent
        for item in node.items:
            dash = " " * dash_indent + "- "
            if isinstance(item, Scalar):
                lines.append(dash + item.text + comment_suffix(item.comment) + item.pad)
            else:
                render_mapping(item, dash_indent + 2, lines, dash)


def scalar_paths(node: Node, prefix: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    if isinstance(node, Scalar):
        return [prefix]
    if isinstance(node, FlowMapping):
        return [(*prefix, key) for key, _ in node.entries]
    if isinstance(node, Mapping):
        return [p for e in node.entries for p in scalar_paths(e.node, (*prefix, e.key))]
    return [p for i, item in enumerate(node.items) for p in scalar_paths(item, (*prefix, i))]


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, str]:
    """A rendered values file and the key of one of its scalars."""
    root = draw(mappings(3))
    lines: list[str] = []
    render_mapping(root, 0, lines, None)
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join(lines) + (eol if draw(st.booleans()) else "")
    if draw(st.booleans()):
        text = "\ufeff" + text
    key = format_key_path(draw(st.sampled_from(scalar_paths(root, ()))))
    return text, key


def assign(tree: Any, key: str, value: str) -> None:
    *parents, last = parse_key_path(key)
    for part in parents:
        tree = tree[part]
    tree[last] = value


def lookup(tree: Any, key: str) -> Any:
    for part in parse_key_path(key):
        tree = tree[part]
    return tree


def load_yaml_1_2(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(document=documents(), value=NEW_VALUES)
def test_setting_any_scalar_changes_only_that_scalar(document: tuple[str, str], value: str) -> None:
    text, key = document
    new = set_value(text, key, value)

    old_lines, new_lines = text.splitlines(keepends=True), new.splitlines(keepends=True)
    assert len(new_lines) == len(old_lines)
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
    assert len(changed) == (0 if new == text else 1)

    for load in (yaml.safe_load, load_yaml_1_2):
        expected = load(text)
        assign(expected, key, value)
        reloaded = load(new)
        assert reloaded == expected
        assert type(lookup(reloaded, key)) is str
