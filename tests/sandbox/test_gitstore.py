"""The git store: real object hashes, history order, merge bases, file-level merges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scoutflow_gitops.sandbox.gitstore import GitStore, Signature, merge_trees

AT = datetime(2025, 1, 1, tzinfo=UTC)


def _sig(minutes: int = 0) -> Signature:
    return Signature("a", "a@x", AT + timedelta(minutes=minutes))


def test_hashes_are_the_ones_git_computes() -> None:
    git = GitStore()
    tree = git.write_files(None, {"b": b"hi"})
    # `printf hi > b; git add b; git commit -m one` with this author and date gives this SHA.
    assert (
        git.commit(tree, [], "one\n", _sig(), _sig()) == "89cb1e6614cddecaf65809af53c1f3ac87031e9d"
    )
    assert git.put_blob(b"hi") == "32f95c0d1244a78b2be1bab8de17906fabb2c4a8"


def test_history_is_newest_first_and_topological_when_dates_tie() -> None:
    git = GitStore()
    root = git.commit(git.write_files(None, {"a": b"1"}), [], "root", _sig(), _sig())
    left = git.commit(git.write_files(None, {"a": b"2"}), [root], "left", _sig(), _sig())
    right = git.commit(git.write_files(None, {"b": b"1"}), [root], "right", _sig(), _sig())
    merge = git.commit(
        git.write_files(None, {"a": b"2", "b": b"1"}), [left, right], "merge", _sig(), _sig()
    )
    order = git.ancestors(merge)
    assert order[0] == merge and order[-1] == root
    assert set(order) == {root, left, right, merge}
    assert git.merge_base(left, right) == root
    assert git.is_ancestor(root, merge) and not git.is_ancestor(left, right)
    later = git.commit(git.write_files(None, {"a": b"3"}), [left], "later", _sig(5), _sig(5))
    assert git.ancestors(later) == [later, left, root]


def test_per_path_history_and_lookup() -> None:
    git = GitStore()
    first = git.commit(
        git.write_files(None, {"env/dev.yaml": b"1", "x": b"1"}), [], "1", _sig(), _sig()
    )
    tree = git.commit_info(first).tree
    second = git.commit(git.write_files(tree, {"x": b"2"}), [first], "2", _sig(), _sig())
    assert git.touches(first, "env") and git.touches(first, "env/dev.yaml")
    assert not git.touches(second, "env") and git.touches(second, "x")
    assert not git.touches(second, "e")
    entry = git.lookup(tree, "env/dev.yaml")
    assert entry is not None and git.blob(entry.sha) == b"1"
    assert git.lookup(tree, "env/nope") is None
    assert [e.name for e in git.entries(tree)] == ["env", "x"]


def test_three_way_merge_reports_files_changed_on_both_sides() -> None:
    git = GitStore()
    base = git.flat_tree(git.write_files(None, {"a": b"1", "b": b"1"}))
    ours = git.flat_tree(git.write_files(None, {"a": b"2", "b": b"1"}))
    theirs = git.flat_tree(git.write_files(None, {"a": b"1", "b": b"2", "c": b"new"}))
    merged, conflicts = merge_trees(base, ours, theirs)
    assert conflicts == []
    assert {path: git.blob(e.sha) for path, e in merged.items()} == {
        "a": b"2",
        "b": b"2",
        "c": b"new",
    }
    clash = git.flat_tree(git.write_files(None, {"a": b"3", "b": b"1"}))
    assert merge_trees(base, ours, clash)[1] == ["a"]


def test_refs() -> None:
    git = GitStore()
    sha = git.commit(git.write_files(None, {"a": b"1"}), [], "1", _sig(), _sig())
    git.set_ref("refs/heads/main", sha)
    git.set_ref("refs/heads/promote/dev", sha)
    assert git.refs("refs/heads/promote/") == {"refs/heads/promote/dev": sha}
    git.delete_ref("refs/heads/promote/dev")
    assert git.ref("refs/heads/promote/dev") is None
    assert git.ref("refs/heads/main") == sha
