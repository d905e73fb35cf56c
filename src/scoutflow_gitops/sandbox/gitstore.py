"""Real git objects for one sandbox repository, kept in a dulwich ``MemoryRepo``.

Everything the API reports about history (SHAs, parents, ahead/behind, per-path history) is
computed from these objects, so a client sees the answers real git would give.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree
from dulwich.refs import Ref
from dulwich.repo import MemoryRepo
from dulwich.repo import Repo as DiskRepo

FILE_MODE = 0o100644
TREE_MODE = 0o040000
SUBMODULE_MODE = 0o160000


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    when: datetime


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author: Signature
    committer: Signature

    @property
    def headline(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def body(self) -> str:
        _, _, rest = self.message.partition("\n")
        return rest.strip("\n")


@dataclass(frozen=True)
class FileEntry:
    """A non-tree entry of a tree, flattened to its full path."""

    mode: int
    sha: str


@dataclass(frozen=True)
class Entry:
    """One entry of a single tree level, as the git trees API lists it."""

    name: str
    mode: int
    sha: str

    @property
    def type(self) -> str:
        if self.mode == TREE_MODE:
            return "tree"
        if self.mode == SUBMODULE_MODE:
            return "commit"
        return "blob"


class GitError(Exception):
    """An object or ref that does not exist, or a tree that cannot be built."""


class GitStore:
    def __init__(self) -> None:
        self._repo = MemoryRepo()
        # Git objects never change, so their parsed forms are cached for history walks.
        self._commits: dict[str, CommitInfo] = {}
        self._flat: dict[str, dict[str, FileEntry]] = {}

    # -- objects ---------------------------------------------------------------------------

    def _get(self, sha: str) -> ShaFile:
        try:
            return self._repo.object_store[ObjectID(sha.encode("ascii"))]
        except (KeyError, ValueError, UnicodeEncodeError) as exc:
            raise GitError(f"no object {sha}") from exc

    def object_type(self, sha: str) -> str | None:
        if not _is_hex_sha(sha):
            return None
        try:
            return self._get(sha).type_name.decode("ascii")
        except GitError:
            return None

    def put_blob(self, data: bytes) -> str:
        blob = Blob.from_string(data)
        self._repo.object_store.add_object(blob)
        return blob.id.decode("ascii")

    def blob(self, sha: str) -> bytes:
        obj = self._get(sha)
        if not isinstance(obj, Blob):
            raise GitError(f"{sha} is not a blob")
        data: bytes = obj.as_raw_string()
        return data

    def entries(self, tree_sha: str) -> list[Entry]:
        obj = self._get(tree_sha)
        if not isinstance(obj, Tree):
            raise GitError(f"{tree_sha} is not a tree")
        return [
            Entry(item.path.decode("utf-8"), item.mode, item.sha.decode("ascii"))
            for item in obj.iteritems()
        ]

    def flat_tree(self, tree_sha: str) -> dict[str, FileEntry]:
        if tree_sha not in self._flat:
            if self.object_type(tree_sha) != "tree":
                raise GitError(f"{tree_sha} is not a tree")
            store = self._repo.object_store
            self._flat[tree_sha] = {
                item.path.decode("utf-8"): FileEntry(item.mode, item.sha.decode("ascii"))
                for item in store.iter_tree_contents(ObjectID(tree_sha.encode("ascii")))
            }
        return dict(self._flat[tree_sha])

    def lookup(self, tree_sha: str, path: str) -> Entry | None:
        """The entry at ``path`` below ``tree_sha`` (the tree itself for an empty path)."""
        parts = [p for p in path.strip("/").split("/") if p]
        entry = Entry("", TREE_MODE, tree_sha)
        for part in parts:
            if entry.type != "tree":
                return None
            found = [e for e in self.entries(entry.sha) if e.name == part]
            if not found:
                return None
            entry = found[0]
        return entry

    def write_tree(self, files: Mapping[str, FileEntry]) -> str:
        """Build (and store) the nested trees for a flat path -> entry mapping."""
        root: dict[str, object] = {}
        for path, entry in files.items():
            parts = path.strip("/").split("/")
            node = root
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise GitError(f"{path}: a parent is a file")
                node = child
            if isinstance(node.get(parts[-1]), dict):
                raise GitError(f"{path}: is a directory")
            node[parts[-1]] = entry
        return self._store_tree(root)

    def _store_tree(self, node: Mapping[str, object]) -> str:
        tree = Tree()
        for name, child in node.items():
            if isinstance(child, FileEntry):
                tree.add(name.encode("utf-8"), child.mode, ObjectID(child.sha.encode("ascii")))
            else:
                assert isinstance(child, dict)
                sha = self._store_tree(child)
                tree.add(name.encode("utf-8"), TREE_MODE, ObjectID(sha.encode("ascii")))
        self._repo.object_store.add_object(tree)
        return tree.id.decode("ascii")

    def write_files(self, base_tree: str | None, changes: Mapping[str, bytes | None]) -> str:
        """A tree equal to ``base_tree`` with files written (bytes) or removed (None)."""
        files = self.flat_tree(base_tree) if base_tree else {}
        for path, data in changes.items():
            if data is None:
                files.pop(path, None)
            else:
                mode = files[path].mode if path in files else FILE_MODE
                files[path] = FileEntry(mode, self.put_blob(data))
        return self.write_tree(files)

    def commit(
        self,
        tree: str,
        parents: Iterable[str],
        message: str,
        author: Signature,
        committer: Signature,
    ) -> str:
        if self.object_type(tree) != "tree":
            raise GitError(f"{tree} is not a tree")
        commit = Commit()
        commit.tree = ObjectID(tree.encode("ascii"))
        commit.parents = [ObjectID(p.encode("ascii")) for p in parents]
        commit.author = f"{author.name} <{author.email}>".encode()
        commit.committer = f"{committer.name} <{committer.email}>".encode()
        commit.author_time = int(author.when.timestamp())
        commit.commit_time = int(committer.when.timestamp())
        commit.author_timezone = commit.commit_timezone = 0
        commit.message = message.encode("utf-8")
        self._repo.object_store.add_object(commit)
        return commit.id.decode("ascii")

    def commit_info(self, sha: str) -> CommitInfo:
        if sha in self._commits:
            return self._commits[sha]
        obj = self._get(sha)
        if not isinstance(obj, Commit):
            raise GitError(f"{sha} is not a commit")
        info = self._commits[sha] = CommitInfo(
            sha=sha,
            tree=obj.tree.decode("ascii"),
            parents=tuple(p.decode("ascii") for p in obj.parents),
            message=obj.message.decode("utf-8", "replace"),
            author=_signature(obj.author, obj.author_time),
            committer=_signature(obj.committer, obj.commit_time),
        )
        return info

    # -- history ---------------------------------------------------------------------------

    def ancestors(self, head: str) -> list[str]:
        """``head`` and its ancestors, newest first: by committer date, children before parents.

        Simulated time often stands still between commits, so the topological constraint is
        what keeps equal-date histories in a true order.
        """
        children: dict[str, int] = {}
        seen = {head}
        stack = [head]
        while stack:
            for parent in self.commit_info(stack.pop()).parents:
                children[parent] = children.get(parent, 0) + 1
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        order: list[str] = []
        counter = 0
        ready = [(-self.commit_info(head).committer.when.timestamp(), counter, head)]
        while ready:
            _, _, sha = heapq.heappop(ready)
            order.append(sha)
            for parent in self.commit_info(sha).parents:
                children[parent] -= 1
                if children[parent] == 0:
                    counter += 1
                    when = self.commit_info(parent).committer.when.timestamp()
                    heapq.heappush(ready, (-when, counter, parent))
        return order

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return ancestor in self._reachable(descendant)

    def _reachable(self, head: str) -> set[str]:
        seen = {head}
        stack = [head]
        while stack:
            for parent in self.commit_info(stack.pop()).parents:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor: a common ancestor no other common ancestor descends from."""
        common = self._reachable(a) & self._reachable(b)
        for sha in self.ancestors(b):
            if sha in common:
                return sha
        return None

    def changed_paths(self, sha: str) -> dict[str, tuple[FileEntry | None, FileEntry | None]]:
        """Files that differ from the first parent (all files for a root commit)."""
        info = self.commit_info(sha)
        before = self.flat_tree(self.commit_info(info.parents[0]).tree) if info.parents else {}
        return diff_trees(before, self.flat_tree(info.tree))

    def touches(self, sha: str, path: str) -> bool:
        """Whether the commit changed ``path`` or anything under it (git log -- path)."""
        prefix = path.strip("/")
        return any(
            p == prefix or p.startswith(prefix + "/") for p in self.changed_paths(sha) if prefix
        )

    def export(self, path: str) -> None:
        """Every object and ref into a new on-disk repository at ``path``: what a runner's
        checkout fetches, for tests that run git against the simulated repository."""
        disk = DiskRepo.init(path, mkdir=True)
        store = self._repo.object_store
        for sha in store:
            disk.object_store.add_object(store[sha])
        for name, sha in self._repo.refs.as_dict().items():
            disk.refs[Ref(name)] = sha

    # -- refs ------------------------------------------------------------------------------

    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        return {
            name.decode("utf-8"): sha.decode("ascii")
            for name, sha in self._repo.refs.as_dict().items()
            if name.decode("utf-8").startswith(prefix)
        }

    def ref(self, name: str) -> str | None:
        return self.refs(name).get(name)

    def set_ref(self, name: str, sha: str) -> None:
        self._repo.refs[Ref(name.encode("utf-8"))] = ObjectID(sha.encode("ascii"))

    def delete_ref(self, name: str) -> None:
        self._repo.refs.remove_if_equals(Ref(name.encode("utf-8")), None)


def diff_trees(
    before: Mapping[str, FileEntry], after: Mapping[str, FileEntry]
) -> dict[str, tuple[FileEntry | None, FileEntry | None]]:
    changed: dict[str, tuple[FileEntry | None, FileEntry | None]] = {}
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old != new:
            changed[path] = (old, new)
    return changed


def merge_trees(
    base: Mapping[str, FileEntry], ours: Mapping[str, FileEntry], theirs: Mapping[str, FileEntry]
) -> tuple[dict[str, FileEntry], list[str]]:
    """A file-level three-way merge: the merged files, and the paths changed on both sides."""
    merged: dict[str, FileEntry] = {}
    conflicts: list[str] = []
    for path in sorted(set(base) | set(ours) | set(theirs)):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        if o == t or t == b:
            result = o
        elif o == b:
            result = t
        else:
            conflicts.append(path)
            result = o
        if result is not None:
            merged[path] = result
    return merged, conflicts


def _is_hex_sha(value: str) -> bool:
    return len(value) == 40 and all(c in "0123456789abcdef" for c in value)


def _signature(raw: bytes, timestamp: int) -> Signature:
    text = raw.decode("utf-8", "replace")
    name, _, rest = text.partition(" <")
    return Signature(name, rest.rstrip(">"), datetime.fromtimestamp(timestamp, UTC))
