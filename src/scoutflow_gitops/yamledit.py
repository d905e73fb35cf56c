"""Byte-exact edits of one scalar in a YAML file, such as an image tag in Helm values.

A load-and-dump through ruamel.yaml re-quotes, re-wraps and re-indents. Here the parser is only
used to *find* the scalar: its event stream gives the exact span of the value in the text, and
that span alone is replaced. Everything else in the file keeps its bytes.

Edits that would not stay local are refused with a ``LocatedError``: a value shared through an
anchor, a value reached through an alias or a ``<<`` merge, duplicate keys (which copy wins
depends on the reader), several documents, block or multi-line scalars.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, StreamMark
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scanner import Scanner
from ruamel.yaml.tokens import ScalarToken

from scoutflow_gitops.errors import LocatedError, UserError

KeyPath = tuple[str | int, ...]
ScalarStyle = Literal["plain", "single", "double", "literal", "folded"]

_STYLES: Final[dict[str | None, ScalarStyle]] = {
    None: "plain",
    "'": "single",
    '"': "double",
    "|": "literal",
    ">": "folded",
}
_STR_TAG: Final = "tag:yaml.org,2002:str"
_NULLS: Final = frozenset({"", "~", "null", "Null", "NULL"})

_KEY_PART: Final = re.compile(r"([^.\[\]\s]+)((?:\[(?:0|[1-9][0-9]*)\])*)")
_INDEX: Final = re.compile(r"\[([0-9]+)\]")
_OCI_TAG: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_DIGEST: Final = re.compile(r"sha256:[a-f0-9]{64}")
# A plain value is written unquoted only if no YAML 1.1, 1.2 or Go (Helm) resolver can take it
# for a number, date, bool or null. Every numeric form needs digits plus at most the letter e
# (exponent) or a 0b/0o/0x radix prefix; dates and sexagesimals need only digits, '-' and ':'.
_PLAIN_SAFE_CHARS: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_NON_NUMERIC_LETTER: Final = re.compile(r"[A-DF-Za-df-z]")
_RADIX_PREFIX: Final = re.compile(r"0[bBoOxX]")
# YAML 1.1 bools and nulls in any case, plus the float words some parsers accept without a dot.
_RESERVED_WORDS: Final = frozenset(
    {"y", "yes", "n", "no", "true", "false", "on", "off", "null", "nan", "inf"}
)
# The ':' after a key, where an empty value's text is inserted.
_VALUE_INDICATOR: Final = re.compile(r"[ \t]*:")

_ADD_KEY_HINT: Final = "set-tag never adds keys; add the key to the file first"
_TAG_HINT: Final = "a tag matches [A-Za-z0-9_][A-Za-z0-9._-]{0,127}; a digest is sha256:<64 hex>"


@dataclass(frozen=True)
class SharedAnchor:
    """An anchor on the value or around it that an alias uses elsewhere in the file."""

    name: str
    anchor_line: int
    alias_line: int


@dataclass(frozen=True)
class ScalarLocation:
    """Where a key's scalar value sits in the text.

    ``start``/``end`` index the str (not bytes) and cover the value only, without any anchor or
    tag in front of it. An empty plain value (``tag:``) has ``start == end``, just after the ':'
    (or after its anchor or tag). Lines and columns are 1-based.
    """

    key: str
    line: int
    column: int
    end_line: int
    start: int
    end: int
    style: ScalarStyle
    value: str
    tag: str | None
    anchor: str | None
    shared_anchor: SharedAnchor | None

    @property
    def is_null(self) -> bool:
        return self.style == "plain" and self.tag is None and self.value in _NULLS


def parse_key_path(key: str) -> KeyPath:
    """Split ``spec.containers[0].image.tag`` into ``("spec", "containers", 0, "image", "tag")``."""
    parts: list[str | int] = []
    for part in key.split("."):
        match = _KEY_PART.fullmatch(part)
        if match is None:
            raise UserError(
                f"invalid key {key!r}: {part!r} is not a key name with optional [N] indexes",
                hint="write a dotted path such as backend.image.tag, with [N] for list items",
            )
        parts.append(match.group(1))
        parts.extend(int(index) for index in _INDEX.findall(match.group(2)))
    return tuple(parts)


def format_key_path(parts: KeyPath) -> str:
    """The inverse of ``parse_key_path``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def is_image_reference(value: str) -> bool:
    """An OCI tag or a sha256 digest: neither can carry a quote, space, '#' or line break."""
    return _OCI_TAG.fullmatch(value) is not None or _DIGEST.fullmatch(value) is not None


def locate(text: str, key: str, *, path: str = "<file>") -> ScalarLocation:
    """Find the scalar at ``key``; refuse files and paths where that is ambiguous."""
    return _Locator(text, key, parse_key_path(key), path).run()


def get_value(text: str, key: str, *, path: str = "<file>") -> str | None:
    """The string at ``key``, or None when it is null (``tag:``, ``tag: ~``, ``tag: null``)."""
    location = locate(text, key, path=path)
    return None if location.is_null else location.value


def set_value(text: str, key: str, value: str, *, path: str = "<file>") -> str:
    """Return ``text`` with the scalar at ``key`` replaced by ``value`` and nothing else changed.

    The value keeps its quote style, except that a plain value is double-quoted when a YAML
    reader could take it for something other than a string. Setting the value it already has
    returns ``text`` unchanged.
    """
    location = locate(text, key, path=path)
    if not is_image_reference(value):
        raise LocatedError(
            path, location.line, f"{value!r} is not a valid image tag or digest", hint=_TAG_HINT
        )
    _check_editable(location, path)
    token = _render(value, location.style)
    if location.start == location.end:
        token = " " + token
    return text[: location.start] + token + text[location.end :]


def get_value_bytes(data: bytes, key: str, *, path: str = "<file>") -> str | None:
    return get_value(_decode(data, path), key, path=path)


def set_value_bytes(data: bytes, key: str, value: str, *, path: str = "<file>") -> bytes:
    """``set_value`` on UTF-8 bytes; a BOM and CRLF line ends come back as they were."""
    return set_value(_decode(data, path), key, value, path=path).encode("utf-8")


def unified_diff(path: str, old_text: str, new_text: str) -> str:
    """A ``git diff``-style patch of one file, including "No newline at end of file" markers."""
    name = path.lstrip("/")
    lines = difflib.unified_diff(
        _diff_lines(old_text), _diff_lines(new_text), fromfile=f"a/{name}", tofile=f"b/{name}"
    )
    return "".join(lines)


def changes_diff(
    before: Mapping[str, bytes | None], after: Sequence[tuple[str, bytes | None]]
) -> str:
    """The patch of several files, from their old bytes to new ones (``None``: absent)."""
    return "".join(
        unified_diff(
            path,
            (before.get(path) or b"").decode("utf-8"),
            (contents or b"").decode("utf-8"),
        )
        for path, contents in after
    )


def _diff_lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines also breaks at \x0c, \x85 or \u2028, which git does not.
    lines = [line + "\n" for line in text.split("\n")]
    if text.endswith("\n") or not text:
        lines.pop()
    else:
        lines[-1] = lines[-1] + "\\ No newline at end of file\n"
    return lines


def _decode(data: bytes, path: str) -> str:
    # Plain "utf-8" (not "utf-8-sig") keeps a BOM as U+FEFF, so encoding gives the same bytes.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise LocatedError(path, line, "file is not UTF-8 text") from exc


def _check_editable(location: ScalarLocation, path: str) -> None:
    line = location.line
    if location.style in ("literal", "folded"):
        indicator = "|" if location.style == "literal" else ">"
        raise LocatedError(
            path, line, f"value is a block scalar ({indicator}); only one-line values are edited"
        )
    if location.end_line != location.line:
        raise LocatedError(path, line, "value spans several lines")
    if location.tag not in (None, _STR_TAG):
        raise LocatedError(
            path, line, f"value is tagged {location.tag}; only untagged or !!str values are edited"
        )
    shared = location.shared_anchor
    if shared is not None:
        raise LocatedError(
            path,
            line,
            f"value lies in anchor &{shared.name} (line {shared.anchor_line}), which is aliased "
            f"at line {shared.alias_line}; the edit would change both places",
        )


def _render(value: str, style: ScalarStyle) -> str:
    if style == "single":
        return f"'{value}'"
    if style == "plain" and _reads_back_plain(value):
        return value
    return f'"{value}"'


def _reads_back_plain(value: str) -> bool:
    if (
        _PLAIN_SAFE_CHARS.fullmatch(value) is None
        or _NON_NUMERIC_LETTER.search(value) is None
        or _RADIX_PREFIX.match(value) is not None
        or value.lower() in _RESERVED_WORDS
    ):
        return False
    # The pattern is the rule; the readers are a second opinion on it.
    return _loads(f"%YAML 1.1\n--- {value}\n") == value and _loads(f"{value}\n") == value


def _loads(document: str) -> object:
    loaded: object = YAML(typ="safe", pure=True).load(document)
    return loaded if isinstance(loaded, str) else None


class _ScalarStartScanner(Scanner):
    """Records where each scalar token starts, keyed by where it ends.

    A scalar event's start mark points at an anchor or tag in front of the value, so the value's
    own start is only known to the scanner.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.scalar_starts: dict[int, StreamMark] = {}

    def get_token(self) -> Any:
        token = super().get_token()
        if type(token) is ScalarToken:
            self.scalar_starts[token.end_mark.index] = token.start_mark
        return token


@dataclass(slots=True)
class _Frame:
    """A mapping or sequence that is still open while the events stream by."""

    is_map: bool
    # How many parts of the key path lead to this node, if it lies on that path.
    depth: int | None
    line: int
    anchor: int | None
    keys: dict[str, int] = field(default_factory=dict)
    expect_key: bool = True
    child_depth: int | None = None
    key_end: StreamMark | None = None
    index: int = 0
    found: bool = False
    merge_line: int | None = None


@dataclass(frozen=True)
class _Target:
    event: ScalarEvent
    key_end: StreamMark | None
    anchors: tuple[int, ...]


class _Locator:
    def __init__(self, text: str, key: str, parts: KeyPath, path: str) -> None:
        self.text = text
        self.key = key
        self.parts = parts
        self.path = path
        self.stack: list[_Frame] = []
        # Anchor names may be redefined; an alias refers to the latest definition before it.
        self.current_anchor: dict[str, int] = {}
        self.anchor_defs: list[tuple[str, int]] = []
        self.first_alias_line: dict[int, int] = {}
        self.documents = 0
        self.target: _Target | None = None

    def run(self) -> ScalarLocation:
        yaml = YAML(typ="safe", pure=True)
        yaml.Scanner = _ScalarStartScanner
        try:
            for event in yaml.parse(self.text):
                self._event(event)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            reason = " ".join(str(exc.problem or exc.context).split())
            raise LocatedError(self.path, line, f"not valid YAML: {reason}") from exc
        except ReaderError as exc:
            line = self.text.count("\n", 0, exc.position) + 1
            raise LocatedError(
                self.path, line, f"not valid YAML: character {exc.character:#06x} is not allowed"
            ) from exc
        if self.target is None:
            raise LocatedError(
                self.path, 1, f"key {self.key!r} not found: the file has no YAML content"
            )
        scanner: _ScalarStartScanner = yaml.scanner
        return self._location(self.target, scanner.scalar_starts)

    def _event(self, event: Any) -> None:
        if isinstance(event, ScalarEvent):
            self._scalar(event)
        elif isinstance(event, MappingStartEvent):
            self._open(event, is_map=True)
        elif isinstance(event, SequenceStartEvent):
            self._open(event, is_map=False)
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            self._close()
        elif isinstance(event, AliasEvent):
            self._alias(event)
        elif isinstance(event, DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise LocatedError(
                    self.path,
                    event.start_mark.line + 1,
                    "file holds several YAML documents (the second starts here); "
                    "only single-document files are edited",
                )

    def _place(self, event: Any) -> int | None:
        """Depth of the node ``event`` starts if it lies on the key path; also tracks keys."""
        if not self.stack:
            return 0
        parent = self.stack[-1]
        if parent.is_map:
            if parent.expect_key:
                parent.expect_key = False
                self._key(parent, event)
                return None
            parent.expect_key = True
            return parent.child_depth
        depth = None
        if parent.depth is not None and self.parts[parent.depth] == parent.index:
            parent.found = True
            depth = parent.depth + 1
        parent.index += 1
        return depth

    def _key(self, mapping: _Frame, event: Any) -> None:
        mapping.child_depth = None
        if not isinstance(event, ScalarEvent):
            return  # a collection or alias as key: nothing a key path can name
        name: str = event.value
        line = event.start_mark.line + 1
        first = mapping.keys.get(name)
        if first is not None:
            raise LocatedError(self.path, line, f"duplicate key {name!r} (first at line {first})")
        mapping.keys[name] = line
        if name == "<<" and event.style is None:
            mapping.merge_line = line
        if mapping.depth is not None and self.parts[mapping.depth] == name:
            mapping.found = True
            mapping.child_depth = mapping.depth + 1
            mapping.key_end = event.end_mark

    def _scalar(self, event: ScalarEvent) -> None:
        depth = self._place(event)
        anchor = self._define(event.anchor, event.start_mark.line + 1)
        if depth is None:
            return
        if depth < len(self.parts):
            raise self._not_a_collection(depth, self._line(event), "holds a value")
        parent = self.stack[-1] if self.stack else None
        anchors = [frame.anchor for frame in self.stack if frame.anchor is not None]
        if anchor is not None:
            anchors.append(anchor)
        key_end = parent.key_end if parent is not None and parent.is_map else None
        self.target = _Target(event, key_end, tuple(anchors))

    def _open(self, event: Any, *, is_map: bool) -> None:
        depth = self._place(event)
        start_line = event.start_mark.line + 1
        anchor = self._define(event.anchor, start_line)
        line = start_line if depth is None else self._line(event)
        if depth is not None:
            kind = "a mapping" if is_map else "a list"
            if depth == len(self.parts):
                raise LocatedError(
                    self.path, line, f"{self.key!r} is {kind}, not a value; name a key inside it"
                )
            if is_map != isinstance(self.parts[depth], str):
                raise self._not_a_collection(depth, line, f"is {kind}")
        self.stack.append(_Frame(is_map=is_map, depth=depth, line=line, anchor=anchor))

    def _close(self) -> None:
        frame = self.stack.pop()
        if frame.depth is None or frame.found:
            return
        where = format_key_path(self.parts[: frame.depth]) or "the top level"
        wanted = self.parts[frame.depth]
        if frame.merge_line is not None:
            raise LocatedError(
                self.path,
                frame.merge_line,
                f"{self.key!r} could only be reached through the '<<' merge key in {where}; "
                "edit the merged mapping instead",
            )
        if frame.is_map:
            message = f"key {self.key!r} not found: no {wanted!r} in {where}"
            raise LocatedError(self.path, frame.line, message, hint=_ADD_KEY_HINT)
        raise LocatedError(
            self.path,
            frame.line,
            f"key {self.key!r} not found: {where} has {frame.index} items, no [{wanted}]",
            hint=_ADD_KEY_HINT,
        )

    def _alias(self, event: AliasEvent) -> None:
        depth = self._place(event)
        line = event.start_mark.line + 1
        anchor = self.current_anchor.get(event.anchor)
        if anchor is None:
            raise LocatedError(
                self.path, line, f"not valid YAML: alias *{event.anchor} is undefined"
            )
        self.first_alias_line.setdefault(anchor, line)
        if depth is not None:
            where = format_key_path(self.parts[:depth]) or "the top level"
            raise LocatedError(
                self.path,
                line,
                f"{where!r} is the alias *{event.anchor}; edit the value at its anchor instead",
            )

    def _define(self, name: str | None, line: int) -> int | None:
        if name is None:
            return None
        anchor = len(self.anchor_defs)
        self.anchor_defs.append((name, line))
        self.current_anchor[name] = anchor
        return anchor

    def _line(self, event: Any) -> int:
        """The line to report for a node on the key path: that of its key, if it has one."""
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.is_map and parent.key_end is not None:
            return parent.key_end.line + 1
        start: StreamMark = event.start_mark
        return start.line + 1

    def _not_a_collection(self, depth: int, line: int, what: str) -> LocatedError:
        where = format_key_path(self.parts[:depth]) or "the top level"
        wanted = self.parts[depth]
        needs = "a list to index" if isinstance(wanted, int) else f"a mapping with {wanted!r}"
        return LocatedError(
            self.path, line, f"key {self.key!r} not found: {where} {what}, not {needs}"
        )

    def _location(self, target: _Target, scalar_starts: dict[int, StreamMark]) -> ScalarLocation:
        event = target.event
        end_mark: StreamMark = event.end_mark
        if event.style is None and event.value == "":
            start = end_mark = self._insertion_point(target)
        else:
            start = scalar_starts[end_mark.index]
        shared = None
        for anchor in target.anchors:
            if anchor in self.first_alias_line:
                name, anchor_line = self.anchor_defs[anchor]
                shared = SharedAnchor(name, anchor_line, self.first_alias_line[anchor])
                break
        return ScalarLocation(
            key=self.key,
            line=start.line + 1,
            column=start.column + 1,
            end_line=end_mark.line + 1,
            start=start.index,
            end=end_mark.index,
            style=_STYLES[event.style],
            value=event.value,
            tag=None if event.tag is None else str(event.tag),
            anchor=event.anchor,
            shared_anchor=shared,
        )

    def _insertion_point(self, target: _Target) -> StreamMark:
        event = target.event
        if event.anchor is not None or event.tag is not None:
            after_properties: StreamMark = event.end_mark
            return after_properties
        key_end = target.key_end
        if key_end is None:
            line = event.start_mark.line + 1
            raise LocatedError(
                self.path, line, "value is an empty list item; put a value there first"
            )
        match = _VALUE_INDICATOR.match(self.text, key_end.index)
        if match is None:
            raise LocatedError(
                self.path,
                key_end.line + 1,
                "value is empty and its key has no ':' on the same line",
            )
        offset = match.end() - key_end.index
        return StreamMark(self.path, match.end(), key_end.line, key_end.column + offset)


# A Helm values file of ours is a few KiB; the largest public chart's is ~300 KiB.
MAX_VALUES_BYTES = 256 * 1024
# Nodes a document may expand to once aliases are followed: far above any real values file,
# far below what a "billion laughs" bomb makes Helm and Argo CD try to build.
MAX_EXPANDED_NODES = 200_000


def check_values_file(data: bytes, *, path: str = "<file>") -> None:
    """Refuse a values file that is too large, or whose aliases expand into a bomb.

    The edit itself would be fine (it touches one scalar), but deploying such a file is not:
    Helm would have to build every expanded node.
    """
    if len(data) > MAX_VALUES_BYTES:
        raise LocatedError(path, 1, f"is larger than {MAX_VALUES_BYTES // 1024} KiB")
    text = _decode(data, path)
    sizes: dict[str, int] = {}
    open_nodes: list[tuple[str | None, int]] = [(None, 0)]
    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            if isinstance(event, CollectionStartEvent):
                open_nodes.append((event.anchor, 1))
                continue
            if isinstance(event, CollectionEndEvent):
                anchor, size = open_nodes.pop()
            elif isinstance(event, ScalarEvent):
                anchor, size = event.anchor, 1
            elif isinstance(event, AliasEvent):
                anchor, size = None, sizes.get(str(event.anchor), 1)
            else:
                continue
            if anchor is not None:
                sizes[anchor] = size
            parent_anchor, parent_size = open_nodes[-1]
            open_nodes[-1] = (parent_anchor, parent_size + size)
            if open_nodes[-1][1] > MAX_EXPANDED_NODES:
                line = event.start_mark.line + 1 if event.start_mark else 1
                raise LocatedError(
                    path,
                    line,
                    f"its aliases expand to more than {MAX_EXPANDED_NODES:,} nodes "
                    "(a YAML bomb?); Helm could not render it",
                )
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise LocatedError(path, mark.line + 1 if mark else 1, "is not valid YAML") from None
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise LocatedError(path, line, f"is not valid YAML: {exc.reason}") from None
