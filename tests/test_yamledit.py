"""One scalar's bytes change and nothing else; anything that cannot stay that local is refused.

Each edit case states the whole expected output, byte for byte; each refusal states the line and
reason the one-line error gives.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from scoutflow_gitops.errors import LocatedError, UserError
from scoutflow_gitops.yamledit import (
    get_value,
    get_value_bytes,
    locate,
    parse_key_path,
    set_value,
    set_value_bytes,
    unified_diff,
)

DIGITS_SHA = "1234567890123456789012345678901234567890"
HEX_SHA = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "ab" * 32


def lookup(tree: Any, key: str) -> Any:
    for part in parse_key_path(key):
        tree = tree[part]
    return tree


def assign(tree: Any, key: str, value: str) -> None:
    *parents, last = parse_key_path(key)
    for part in parents:
        tree = tree[part]
    tree[last] = value


def load_yaml_1_1(text: str) -> Any:
    return yaml.safe_load(text)


def load_yaml_1_2(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


# (id, text before, key, new value, text after)
EDITS = [
    (
        "plain stays plain",
        "image:\n  repository: ghcr.io/scoutflow/api\n  tag: v1.0.0\n",
        "image.tag",
        "v1.0.1",
        "image:\n  repository: ghcr.io/scoutflow/api\n  tag: v1.0.1\n",
    ),
    (
        "hex sha with letters stays plain",
        "image:\n  tag: v1.0.0\n",
        "image.tag",
        HEX_SHA,
        f"image:\n  tag: {HEX_SHA}\n",
    ),
    (
        "bitnami-style plain value",
        "image:\n  tag: 17.6.0-debian-12-r4\n",
        "image.tag",
        "17.6.0-debian-12-r5",
        "image:\n  tag: 17.6.0-debian-12-r5\n",
    ),
    (
        "double-quoted stays double-quoted",
        'image:\n  tag: "v1"\n',
        "image.tag",
        "v2",
        'image:\n  tag: "v2"\n',
    ),
    (
        "single-quoted stays single-quoted",
        "image:\n  tag: 'v1'\n",
        "image.tag",
        DIGITS_SHA,
        f"image:\n  tag: '{DIGITS_SHA}'\n",
    ),
    (
        "all-digit sha is quoted",
        "image:\n  tag: v1\n",
        "image.tag",
        DIGITS_SHA,
        f'image:\n  tag: "{DIGITS_SHA}"\n',
    ),
    ("1e10 is quoted", "tag: v1\n", "tag", "1e10", 'tag: "1e10"\n'),
    ("123e4567 is quoted", "tag: v1\n", "tag", "123e4567", 'tag: "123e4567"\n'),
    (
        "40-char sha shaped like a float is quoted",
        "tag: v1\n",
        "tag",
        "1234567e89012345678901234567890123456789",
        'tag: "1234567e89012345678901234567890123456789"\n',
    ),
    ("E5 is quoted (only exponent letters)", "tag: v1\n", "tag", "E5", 'tag: "E5"\n'),
    ("1.10 is quoted", "tag: v1\n", "tag", "1.10", 'tag: "1.10"\n'),
    ("0x1f is quoted", "tag: v1\n", "tag", "0x1f", 'tag: "0x1f"\n'),
    ("0o17 is quoted", "tag: v1\n", "tag", "0o17", 'tag: "0o17"\n'),
    ("0b101 is quoted", "tag: v1\n", "tag", "0b101", 'tag: "0b101"\n'),
    ("octal 017 is quoted", "tag: v1\n", "tag", "017", 'tag: "017"\n'),
    ("1_000 is quoted", "tag: v1\n", "tag", "1_000", 'tag: "1_000"\n'),
    ("date is quoted", "tag: v1\n", "tag", "2001-12-14", 'tag: "2001-12-14"\n'),
    ("true is quoted", "tag: v1\n", "tag", "true", 'tag: "true"\n'),
    ("True is quoted", "tag: v1\n", "tag", "True", 'tag: "True"\n'),
    ("yes is quoted", "tag: v1\n", "tag", "yes", 'tag: "yes"\n'),
    ("on is quoted", "tag: v1\n", "tag", "on", 'tag: "on"\n'),
    ("off is quoted", "tag: v1\n", "tag", "off", 'tag: "off"\n'),
    ("y is quoted", "tag: v1\n", "tag", "y", 'tag: "y"\n'),
    ("n is quoted", "tag: v1\n", "tag", "n", 'tag: "n"\n'),
    ("null is quoted", "tag: v1\n", "tag", "null", 'tag: "null"\n'),
    ("NULL is quoted", "tag: v1\n", "tag", "NULL", 'tag: "NULL"\n'),
    ("digest into plain is quoted", "tag: v1\n", "tag", DIGEST, f'tag: "{DIGEST}"\n'),
    ("digest into single quotes", "tag: 'v1'\n", "tag", DIGEST, f"tag: '{DIGEST}'\n"),
    (
        "plain int value gets quoted even when equal",
        "tag: 1234\n",
        "tag",
        "1234",
        'tag: "1234"\n',
    ),
    (
        "CRLF line ends",
        "a: 1\r\nimage:\r\n  tag: v1\r\n  pullPolicy: Always\r\n",
        "image.tag",
        "v2",
        "a: 1\r\nimage:\r\n  tag: v2\r\n  pullPolicy: Always\r\n",
    ),
    (
        "UTF-8 BOM",
        "\ufeffimage:\n  tag: v1\n",
        "image.tag",
        "v2",
        "\ufeffimage:\n  tag: v2\n",
    ),
    (
        "BOM and CRLF on the first key",
        "\ufefftag: v1\r\nb: 2\r\n",
        "tag",
        DIGITS_SHA,
        f'\ufefftag: "{DIGITS_SHA}"\r\nb: 2\r\n',
    ),
    (
        "no final newline",
        "image:\n  tag: v1",
        "image.tag",
        "v2",
        "image:\n  tag: v2",
    ),
    (
        "tabs and trailing spaces stay",
        'a: 1   \n#\tcomment\t\nimage:  \n  tag: v1   \n  note: "x\ty"  \n',
        "image.tag",
        "v2",
        'a: 1   \n#\tcomment\t\nimage:  \n  tag: v2   \n  note: "x\ty"  \n',
    ),
    (
        "flow mapping",
        'image: {repository: x, tag: "1", pullPolicy: Always}\n',
        "image.tag",
        "v2",
        'image: {repository: x, tag: "v2", pullPolicy: Always}\n',
    ),
    (
        "plain value in a flow mapping",
        "image: {tag: v1, repository: x}\n",
        "image.tag",
        DIGITS_SHA,
        f'image: {{tag: "{DIGITS_SHA}", repository: x}}\n',
    ),
    (
        "empty value in a flow mapping",
        "image: {tag: , repository: x}\n",
        "image.tag",
        "v2",
        "image: {tag: v2 , repository: x}\n",
    ),
    (
        "comments that look like the key stay",
        "# image:\n#   tag: old\nimage:\n  # tag: v0\n  tag: v1 # tag: v1\n#tag: v1\n",
        "image.tag",
        "v2",
        "# image:\n#   tag: old\nimage:\n  # tag: v0\n  tag: v2 # tag: v1\n#tag: v1\n",
    ),
    (
        "trailing comment stays",
        'image:\n  tag: "" # defaults to global.image.tag\n',
        "image.tag",
        "v2",
        'image:\n  tag: "v2" # defaults to global.image.tag\n',
    ),
    (
        "value continued on the next line",
        "image:\n  tag:\n    v1\n  pullPolicy: Always\n",
        "image.tag",
        "v2",
        "image:\n  tag:\n    v2\n  pullPolicy: Always\n",
    ),
    ("empty plain value", "image:\n  tag:\n", "image.tag", "v2", "image:\n  tag: v2\n"),
    (
        "empty plain value that needs quotes",
        "image:\n  tag:\n  x: 1\n",
        "image.tag",
        DIGITS_SHA,
        f'image:\n  tag: "{DIGITS_SHA}"\n  x: 1\n',
    ),
    (
        "empty value with a comment",
        "image:\n  tag:  # @schema type:[string, null]\n",
        "image.tag",
        "v2",
        "image:\n  tag: v2  # @schema type:[string, null]\n",
    ),
    ("empty value at end of file", "image:\n  tag:", "image.tag", "v2", "image:\n  tag: v2"),
    ("empty value before CRLF", "tag:\r\nb: 1\r\n", "tag", "v2", "tag: v2\r\nb: 1\r\n"),
    ('empty ""', 'tag: ""\n', "tag", "v2", 'tag: "v2"\n'),
    ("empty ''", "tag: ''\n", "tag", "v2", "tag: 'v2'\n"),
    ("~", "tag: ~\n", "tag", "v2", "tag: v2\n"),
    ("null", "tag: null # unset\n", "tag", "v2", "tag: v2 # unset\n"),
    ("null to digits", "tag: null\n", "tag", DIGITS_SHA, f'tag: "{DIGITS_SHA}"\n'),
    (
        "list index",
        "spec:\n  containers:\n  - name: a\n    image:\n      tag: v1\n"
        "  - name: b\n    image:\n      tag: v1\n",
        "spec.containers[1].image.tag",
        "v2",
        "spec:\n  containers:\n  - name: a\n    image:\n      tag: v1\n"
        "  - name: b\n    image:\n      tag: v2\n",
    ),
    ("nested list indexes", "m:\n- - a\n  - b\n", "m[0][1]", "v2", "m:\n- - a\n  - v2\n"),
    ("flow sequence item", "tags: [a, 'b', c]\n", "tags[1]", "v2", "tags: [a, 'v2', c]\n"),
    (
        "long lines stay",
        "# " + "x" * 300 + "\nlong: " + "y" * 500 + "\ntag: v1\n",
        "tag",
        "v2",
        "# " + "x" * 300 + "\nlong: " + "y" * 500 + "\ntag: v2\n",
    ),
    (
        "non-ASCII text around the value",
        "# café\nimage:\n  name: ünïcode\n  tag: v1 # naïve\n",
        "image.tag",
        "v2",
        "# café\nimage:\n  name: ünïcode\n  tag: v2 # naïve\n",
    ),
    (
        "quoting of other values stays",
        "a: 'x'\nb: \"y\"\nc: 1.10\nd: yes\ntag: v1\ne: 'z'\n",
        "tag",
        "v2",
        "a: 'x'\nb: \"y\"\nc: 1.10\nd: yes\ntag: v2\ne: 'z'\n",
    ),
    ("quoted key", '"tag": v1\n', "tag", "v2", '"tag": v2\n'),
    ("key with a dash", "redis-ha:\n  tag: v1\n", "redis-ha.tag", "v2", "redis-ha:\n  tag: v2\n"),
    (
        "unaliased anchor on the value stays",
        "tag: &t v1\n",
        "tag",
        "v2",
        "tag: &t v2\n",
    ),
    (
        "anchor aliased elsewhere, off the path",
        "common: &c {a: 1}\nx: *c\nimage:\n  tag: v1\n",
        "image.tag",
        "v2",
        "common: &c {a: 1}\nx: *c\nimage:\n  tag: v2\n",
    ),
    (
        "merge key in the mapping, key given directly",
        "base: &b\n  pullPolicy: Always\nsvc:\n  <<: *b\n  tag: v1\n",
        "svc.tag",
        "v2",
        "base: &b\n  pullPolicy: Always\nsvc:\n  <<: *b\n  tag: v2\n",
    ),
    ("!!str tag stays", "tag: !!str 123\n", "tag", "v2", "tag: !!str v2\n"),
    (
        "anchor and !!str before a quoted value",
        'tag: &t !!str "1"\n',
        "tag",
        "v2",
        'tag: &t !!str "v2"\n',
    ),
    ("empty value after a tag", "tag: !!str\n", "tag", "v2", "tag: !!str v2\n"),
    (
        "explicit document markers",
        "%YAML 1.2\n---\ntag: v1\n...\n",
        "tag",
        "v2",
        "%YAML 1.2\n---\ntag: v2\n...\n",
    ),
    (
        "key spelled like the target elsewhere",
        "tag: v0\nimage:\n  tag: v1\nother:\n  image:\n    tag: v1\n",
        "image.tag",
        "v2",
        "tag: v0\nimage:\n  tag: v2\nother:\n  image:\n    tag: v1\n",
    ),
]


def cases(table: list[tuple[Any, ...]]) -> list[Any]:
    """Table rows start with the case's id."""
    return [pytest.param(*row[1:], id=row[0]) for row in table]


@pytest.mark.parametrize(("text", "key", "value", "expected"), cases(EDITS))
def test_edit_changes_only_the_value(text: str, key: str, value: str, expected: str) -> None:
    assert set_value(text, key, value) == expected


@pytest.mark.parametrize(("text", "key", "value", "expected"), cases(EDITS))
def test_edit_reads_back_as_the_string_in_yaml_1_1_and_1_2(
    text: str, key: str, value: str, expected: str
) -> None:
    for load in (load_yaml_1_1, load_yaml_1_2):
        before, after = load(text), load(expected)
        assign(before, key, value)
        assert after == before
        assert type(lookup(after, key)) is str


def test_setting_the_value_it_already_has_returns_the_same_text() -> None:
    text = 'image:\n  tag: "v1" # pinned\n'
    assert set_value(text, "image.tag", "v1") == text


# (id, text, key, new value, line, reason)
REFUSALS = [
    (
        "missing key is never inserted",
        "image:\n  repository: x\n",
        "image.tag",
        "v2",
        1,
        "key 'image.tag' not found: no 'tag' in image",
    ),
    (
        "key only in a comment",
        "a: 1\nimage:\n  # tag: v1\n  repository: x\n",
        "image.tag",
        "v2",
        2,
        "no 'tag' in image",
    ),
    ("missing top-level key", "a: 1\n", "tag", "v2", 1, "no 'tag' in the top level"),
    (
        "path ends on a mapping",
        "image:\n  tag: v1\n",
        "image",
        "v2",
        1,
        "'image' is a mapping, not a value",
    ),
    ("path ends on a list", "tags:\n- a\n", "tags", "v2", 1, "'tags' is a list, not a value"),
    (
        "path goes through a value",
        "image: nginx\n",
        "image.tag",
        "v2",
        1,
        "image holds a value, not a mapping with 'tag'",
    ),
    (
        "mapping indexed like a list",
        "image:\n  tag: v1\n",
        "image[0]",
        "v2",
        1,
        "image is a mapping",
    ),
    ("list used like a mapping", "l:\n- tag: v1\n", "l.tag", "v2", 1, "l is a list"),
    ("index out of range", "l:\n- tag: v1\n", "l[1].tag", "v2", 1, "l has 1 items, no [1]"),
    ("top level is a value", "just text\n", "tag", "v2", 1, "the top level holds a value"),
    ("empty file", "", "tag", "v2", 1, "the file has no YAML content"),
    ("only comments", "# tag: v1\n", "tag", "v2", 1, "the file has no YAML content"),
    ("literal block scalar", "a: 1\ntag: |\n  v1\n", "tag", "v2", 2, "block scalar (|)"),
    ("folded block scalar", "tag: >-\n  v1\n", "tag", "v2", 1, "block scalar (>)"),
    (
        "plain value over several lines",
        "image:\n  tag: v1\n    more\n",
        "image.tag",
        "v2",
        2,
        "value spans several lines",
    ),
    (
        "quoted value over several lines",
        'tag: "v1\n  more"\n',
        "tag",
        "v2",
        1,
        "value spans several lines",
    ),
    ("!!int tag", "tag: !!int 5\n", "tag", "v2", 1, "tagged tag:yaml.org,2002:int"),
    ("custom tag", "tag: !custom v1\n", "tag", "v2", 1, "tagged !custom"),
    (
        "anchored value aliased elsewhere",
        "tag: &t v1\nother: *t\n",
        "tag",
        "v2",
        1,
        "anchor &t (line 1), which is aliased at line 2",
    ),
    (
        "value inside an aliased anchor",
        "base: &b\n  tag: v1\nother: *b\n",
        "base.tag",
        "v2",
        2,
        "anchor &b (line 1), which is aliased at line 3",
    ),
    (
        "value inside a mapping merged elsewhere",
        "base: &b\n  tag: v1\nsvc:\n  <<: *b\n",
        "base.tag",
        "v2",
        2,
        "anchor &b (line 1), which is aliased at line 4",
    ),
    (
        "value reached through an alias",
        "base: &b\n  tag: v1\nother: *b\n",
        "other.tag",
        "v2",
        3,
        "'other' is the alias *b",
    ),
    (
        "value is an alias",
        "a: &x v1\ntag: *x\n",
        "tag",
        "v2",
        2,
        "'tag' is the alias *x",
    ),
    (
        "value reached through a merge key",
        "base: &b\n  tag: v1\nsvc:\n  <<: *b\n  name: x\n",
        "svc.tag",
        "v2",
        4,
        "reached through the '<<' merge key in svc",
    ),
    (
        "duplicate target key",
        "image:\n  tag: v1\n  tag: v2\n",
        "image.tag",
        "v3",
        3,
        "duplicate key 'tag' (first at line 2)",
    ),
    (
        "duplicate key elsewhere in the file",
        "a: 1\nb: 2\na: 3\nimage:\n  tag: v1\n",
        "image.tag",
        "v2",
        3,
        "duplicate key 'a' (first at line 1)",
    ),
    (
        "duplicate key on one line",
        "x: {a: 1, a: 2}\ntag: v1\n",
        "tag",
        "v2",
        1,
        "duplicate key 'a' (first at line 1)",
    ),
    (
        "duplicates differing only in quotes",
        "tag: v1\n'tag': v2\n",
        "tag",
        "v3",
        2,
        "duplicate key 'tag'",
    ),
    (
        "invalid YAML",
        "image:\n  tag: v1\n bad: x\n",
        "image.tag",
        "v2",
        3,
        "not valid YAML",
    ),
    ("unclosed flow mapping", "image: {tag: v1\n", "image.tag", "v2", 2, "not valid YAML"),
    ("tab after the colon", "tag:\tv1\n", "tag", "v2", 1, "not valid YAML"),
    ("undefined alias", "a: *nope\ntag: v1\n", "tag", "v2", 1, "alias *nope is undefined"),
    ("control character", "tag: v1\nb: \x07\n", "tag", "v2", 2, "not valid YAML: character 0x0007"),
    (
        "several documents",
        "tag: v1\n---\ntag: v2\n",
        "tag",
        "v3",
        2,
        "file holds several YAML documents",
    ),
    (
        "empty value without a ':'",
        "image: {tag}\n",
        "image.tag",
        "v2",
        1,
        "value is empty and its key has no ':' on the same line",
    ),
    (
        "explicit key with the ':' on the next line",
        "? tag\n:\n",
        "tag",
        "v2",
        1,
        "value is empty and its key has no ':' on the same line",
    ),
    ("empty list item", "l:\n-\n- b\n", "l[0]", "v2", 2, "value is an empty list item"),
    ("injected line break", "tag: v1\n", "tag", "abc\nfoo: bar", 1, "is not a valid image tag"),
    ("trailing line break", "tag: v1\n", "tag", "abc\n", 1, "is not a valid image tag"),
    ("space", "tag: v1\n", "tag", "a b", 1, "is not a valid image tag"),
    ("hash", "tag: v1\n", "tag", "a#b", 1, "is not a valid image tag"),
    ("double quotes", "tag: v1\n", "tag", '"x"', 1, "is not a valid image tag"),
    ("single quote", "image:\n  tag: 'v1'\n", "image.tag", "a'b", 2, "is not a valid image tag"),
    ("empty string", "tag: v1\n", "tag", "", 1, "is not a valid image tag"),
    ("leading dash", "tag: v1\n", "tag", "-v1", 1, "is not a valid image tag"),
    ("leading dot", "tag: v1\n", "tag", ".inf", 1, "is not a valid image tag"),
    ("tilde", "tag: v1\n", "tag", "~", 1, "is not a valid image tag"),
    ("colon", "tag: v1\n", "tag", "1:20", 1, "is not a valid image tag"),
    ("129 characters", "tag: v1\n", "tag", "a" * 129, 1, "is not a valid image tag"),
    ("short digest", "tag: v1\n", "tag", "sha256:abc", 1, "is not a valid image tag"),
    ("upper-case digest", "tag: v1\n", "tag", "sha256:" + "AB" * 32, 1, "not a valid image tag"),
]


@pytest.mark.parametrize(("text", "key", "value", "line", "reason"), cases(REFUSALS))
def test_refusal_names_the_line_and_reason(
    text: str, key: str, value: str, line: int, reason: str
) -> None:
    with pytest.raises(LocatedError) as caught:
        set_value(text, key, value, path="values.yaml")
    error = caught.value
    assert (error.path, error.line) == ("values.yaml", line)
    assert reason in error.reason
    assert error.message.startswith(f"values.yaml:{line}: ")
    assert "\n" not in str(error)


# (id, text, key, value)
READS = [
    ("plain", "image:\n  tag: v1 # c\n", "image.tag", "v1"),
    ("double-quoted with escape", 'tag: "a\\tb"\n', "tag", "a\tb"),
    ("single-quoted with quote", "tag: 'it''s'\n", "tag", "it's"),
    ('empty ""', 'tag: ""\n', "tag", ""),
    ("empty plain is null", "tag:\n", "tag", None),
    ("~ is null", "tag: ~\n", "tag", None),
    ("null is null", "tag: null\n", "tag", None),
    ('"null" is a string', 'tag: "null"\n', "tag", "null"),
    ("digits as written", "tag: 1.10\n", "tag", "1.10"),
    ("block scalar can be read", "tag: |\n  a\n  b\n", "tag", "a\nb\n"),
    ("shared anchor can be read", "tag: &t v1\nx: *t\n", "tag", "v1"),
]


@pytest.mark.parametrize(("text", "key", "value"), cases(READS))
def test_get_value(text: str, key: str, value: str | None) -> None:
    assert get_value(text, key) == value


def test_location_describes_the_value_span() -> None:
    text = "image:\n  tag: &t 'v1' # c\n"
    location = locate(text, "image.tag")
    assert text[location.start : location.end] == "'v1'"
    assert (location.line, location.column, location.style) == (2, 11, "single")
    assert (location.anchor, location.shared_anchor) == ("t", None)


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("imageTag", ("imageTag",)),
        ("global.imageTag", ("global", "imageTag")),
        ("backend.image.tag", ("backend", "image", "tag")),
        (
            "spec.template.containers[0].image.tag",
            ("spec", "template", "containers", 0, "image", "tag"),
        ),
        ("m[0][12]", ("m", 0, 12)),
        ("redis-ha.image.tag", ("redis-ha", "image", "tag")),
    ],
)
def test_parse_key_path(key: str, parts: tuple[str | int, ...]) -> None:
    assert parse_key_path(key) == parts


@pytest.mark.parametrize(
    "key",
    [
        "",
        ".",
        "a.",
        ".a",
        "a..b",
        "a[",
        "a]",
        "a[x]",
        "a[-1]",
        "a[01]",
        "a b",
        "[0]",
        "a[0]b",
        "a\nb",
    ],
)
def test_malformed_key_is_refused(key: str) -> None:
    with pytest.raises(UserError, match="invalid key") as caught:
        parse_key_path(key)
    assert not isinstance(caught.value, LocatedError)
    assert "[N]" in caught.value.hint


def test_bytes_keep_bom_and_crlf() -> None:
    data = b"\xef\xbb\xbfa: 1\r\nimage:\r\n  tag: 'v1'\r\n  x: caf\xc3\xa9\r\n"
    expected = b"\xef\xbb\xbfa: 1\r\nimage:\r\n  tag: 'v2'\r\n  x: caf\xc3\xa9\r\n"
    assert set_value_bytes(data, "image.tag", "v2") == expected
    assert get_value_bytes(expected, "image.tag") == "v2"


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(LocatedError) as caught:
        set_value_bytes(b"a: 1\ntag: caf\xe9\n", "tag", "v2", path="values.yaml")
    assert (caught.value.line, caught.value.reason) == (2, "file is not UTF-8 text")


def test_unified_diff() -> None:
    old = "a: 1\nimage:\n  tag: v1\n"
    new = "a: 1\nimage:\n  tag: v2\n"
    assert unified_diff("environments/dev/values.yaml", old, new) == (
        "--- a/environments/dev/values.yaml\n"
        "+++ b/environments/dev/values.yaml\n"
        "@@ -1,3 +1,3 @@\n"
        " a: 1\n"
        " image:\n"
        "-  tag: v1\n"
        "+  tag: v2\n"
    )


def test_unified_diff_marks_a_missing_final_newline() -> None:
    assert unified_diff("/tmp/v.yaml", "a: 1\ntag: v1", "a: 1\ntag: v2") == (
        "--- a/tmp/v.yaml\n"
        "+++ b/tmp/v.yaml\n"
        "@@ -1,2 +1,2 @@\n"
        " a: 1\n"
        "-tag: v1\n"
        "\\ No newline at end of file\n"
        "+tag: v2\n"
        "\\ No newline at end of file\n"
    )


def test_unified_diff_of_equal_texts_is_empty() -> None:
    assert unified_diff("v.yaml", "a: 1\n", "a: 1\n") == ""
