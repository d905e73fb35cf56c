"""Regenerate the trimmed copies of GitHub's API descriptions that the sandbox and its tests use.

Reads the octokit npm packages unpacked in ``../shared/github/`` (see its README) and writes:

- ``tests/fixtures/github/openapi.json``: only the REST operations the sandbox serves, with every
  component they ``$ref`` (examples dropped: they are most of the size and nothing checks them);
- ``src/scoutflow_gitops/sandbox/data/schema.graphql``: only the GraphQL types and fields the
  sandbox resolves, cut out of GitHub's SDL text so names, argument types, descriptions and
  directives stay exactly GitHub's. Every argument of a kept field is kept with its input types,
  so a document valid against the trimmed schema is valid against the full one;
- ``tests/fixtures/github/webhooks/*.json``: the real webhook examples, unchanged;
- the licence files that come with each package.

Run: ``.venv/bin/python scripts/trim_github_fixtures.py [--source ../shared/github]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    FieldDefinitionNode,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    TypeNode,
    UnionTypeDefinitionNode,
    parse,
    print_ast,
)

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_OUT = ROOT / "tests/fixtures/github/openapi.json"
SCHEMA_OUT = ROOT / "src/scoutflow_gitops/sandbox/data/schema.graphql"
WEBHOOKS_OUT = ROOT / "tests/fixtures/github/webhooks"
BUILTIN_SCALARS = frozenset({"Boolean", "Float", "ID", "Int", "String"})
WEBHOOK_EVENTS = ("workflow_run", "issue_comment", "workflow_dispatch", "pull_request_review")

# The REST operations `scoutflow_gitops.sandbox.rest` routes, as (path template, method).
REST_OPERATIONS: tuple[tuple[str, str], ...] = (
    ("/installation/repositories", "get"),
    ("/repos/{owner}/{repo}", "get"),
    ("/repos/{owner}/{repo}/contents/{path}", "get"),
    ("/repos/{owner}/{repo}/git/ref/{ref}", "get"),
    ("/repos/{owner}/{repo}/git/matching-refs/{ref}", "get"),
    ("/repos/{owner}/{repo}/git/refs", "post"),
    ("/repos/{owner}/{repo}/git/refs/{ref}", "patch"),
    ("/repos/{owner}/{repo}/git/refs/{ref}", "delete"),
    ("/repos/{owner}/{repo}/git/blobs", "post"),
    ("/repos/{owner}/{repo}/git/blobs/{file_sha}", "get"),
    ("/repos/{owner}/{repo}/git/trees", "post"),
    ("/repos/{owner}/{repo}/git/trees/{tree_sha}", "get"),
    ("/repos/{owner}/{repo}/git/commits", "post"),
    ("/repos/{owner}/{repo}/git/commits/{commit_sha}", "get"),
    ("/repos/{owner}/{repo}/commits", "get"),
    ("/repos/{owner}/{repo}/commits/{ref}", "get"),
    ("/repos/{owner}/{repo}/commits/{ref}/status", "get"),
    ("/repos/{owner}/{repo}/commits/{ref}/statuses", "get"),
    ("/repos/{owner}/{repo}/statuses/{sha}", "post"),
    ("/repos/{owner}/{repo}/compare/{basehead}", "get"),
    ("/repos/{owner}/{repo}/branches", "get"),
    ("/repos/{owner}/{repo}/branches/{branch}", "get"),
    ("/repos/{owner}/{repo}/pulls", "get"),
    ("/repos/{owner}/{repo}/pulls", "post"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}", "get"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}", "patch"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}/merge", "get"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}/merge", "put"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", "get"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", "post"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "get"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "post"),
    ("/repos/{owner}/{repo}/issues", "post"),
    ("/repos/{owner}/{repo}/issues/{issue_number}", "get"),
    ("/repos/{owner}/{repo}/issues/{issue_number}", "patch"),
    ("/repos/{owner}/{repo}/issues/{issue_number}/labels", "get"),
    ("/repos/{owner}/{repo}/issues/{issue_number}/labels", "post"),
    ("/repos/{owner}/{repo}/issues/{issue_number}/comments", "get"),
    ("/repos/{owner}/{repo}/issues/{issue_number}/comments", "post"),
    ("/repos/{owner}/{repo}/issues/{issue_number}/reactions", "get"),
    ("/repos/{owner}/{repo}/issues/{issue_number}/reactions", "post"),
    ("/repos/{owner}/{repo}/issues/comments/{comment_id}", "get"),
    ("/repos/{owner}/{repo}/issues/comments/{comment_id}", "patch"),
    ("/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", "get"),
    ("/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", "post"),
    ("/repos/{owner}/{repo}/collaborators/{username}/permission", "get"),
    ("/repos/{owner}/{repo}/installation", "get"),
    ("/app/installations/{installation_id}/access_tokens", "post"),
    ("/repos/{owner}/{repo}/actions/runs", "get"),
    ("/repos/{owner}/{repo}/actions/runs/{run_id}", "get"),
    ("/repos/{owner}/{repo}/actions/workflows/{workflow_id}", "get"),
    ("/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", "post"),
)

# The GraphQL object and interface fields `scoutflow_gitops.sandbox.graphql_api` resolves.
# Input objects, enums and scalars reached from these are kept whole; a union keeps the members
# listed here. An object type reached but not listed is an error, so nothing slips in unresolved.
GRAPHQL_FIELDS: dict[str, tuple[str, ...]] = {
    "Query": ("id", "node", "nodes", "repository", "user", "viewer"),
    "Mutation": (
        "addComment",
        "addLabelsToLabelable",
        "addPullRequestReview",
        "addReaction",
        "closePullRequest",
        "createCommitOnBranch",
        "createPullRequest",
        "createRef",
        "deleteRef",
        "disablePullRequestAutoMerge",
        "enablePullRequestAutoMerge",
        "mergePullRequest",
        "requestReviews",
        "updatePullRequest",
        "updateRef",
        "updateRefs",
    ),
    "Node": ("id",),
    "Actor": ("login", "url"),
    "GitObject": ("abbreviatedOid", "id", "oid", "repository"),
    "Labelable": ("labels",),
    "Reactable": ("id", "reactions"),
    "RepositoryOwner": ("id", "login", "url"),
    "Repository": (
        "autoMergeAllowed",
        "databaseId",
        "defaultBranchRef",
        "id",
        "isPrivate",
        "issue",
        "label",
        "labels",
        "mergeCommitAllowed",
        "name",
        "nameWithOwner",
        "object",
        "owner",
        "pullRequest",
        "pullRequests",
        "rebaseMergeAllowed",
        "ref",
        "refs",
        "squashMergeAllowed",
        "url",
        "viewerPermission",
    ),
    "User": ("databaseId", "id", "login", "name", "url"),
    "Bot": ("databaseId", "id", "login", "url"),
    "Team": ("id", "name", "slug"),
    "Ref": ("associatedPullRequests", "id", "name", "prefix", "repository", "target"),
    "Commit": (
        "abbreviatedOid",
        "associatedPullRequests",
        "author",
        "authoredDate",
        "committedDate",
        "committer",
        "file",
        "history",
        "id",
        "message",
        "messageBody",
        "messageHeadline",
        "oid",
        "parents",
        "repository",
        "statusCheckRollup",
        "tree",
        "url",
    ),
    "GitActor": ("date", "email", "name", "user"),
    "Blob": (
        "abbreviatedOid",
        "byteSize",
        "id",
        "isBinary",
        "isTruncated",
        "oid",
        "repository",
        "text",
    ),
    "Tree": ("abbreviatedOid", "entries", "id", "oid", "repository"),
    "TreeEntry": ("mode", "name", "object", "oid", "path", "type"),
    "StatusCheckRollup": ("commit", "id", "state"),
    "PullRequest": (
        "author",
        "autoMergeRequest",
        "baseRef",
        "baseRefName",
        "baseRefOid",
        "body",
        "closed",
        "closedAt",
        "comments",
        "commits",
        "createdAt",
        "databaseId",
        "editor",
        "headRef",
        "headRefName",
        "headRefOid",
        "id",
        "isDraft",
        "labels",
        "lastEditedAt",
        "mergeCommit",
        "mergeStateStatus",
        "mergeable",
        "merged",
        "mergedAt",
        "number",
        "reactions",
        "repository",
        "reviewDecision",
        "reviewRequests",
        "reviews",
        "state",
        "title",
        "updatedAt",
        "url",
    ),
    "PullRequestReview": (
        "author",
        "authorCanPushToRepository",
        "body",
        "commit",
        "databaseId",
        "id",
        "pullRequest",
        "state",
        "submittedAt",
        "url",
    ),
    "PullRequestCommit": ("commit", "id", "pullRequest", "url"),
    "PullRequestCommitConnection": ("edges", "nodes", "pageInfo", "totalCount"),
    "PullRequestCommitEdge": ("cursor", "node"),
    "PullRequestReviewConnection": ("edges", "nodes", "pageInfo", "totalCount"),
    "PullRequestReviewEdge": ("cursor", "node"),
    "AddPullRequestReviewPayload": ("clientMutationId", "pullRequestReview"),
    "AutoMergeRequest": (
        "commitBody",
        "commitHeadline",
        "enabledAt",
        "enabledBy",
        "mergeMethod",
        "pullRequest",
    ),
    "ReviewRequest": ("id", "pullRequest", "requestedReviewer"),
    "Issue": (
        "author",
        "body",
        "comments",
        "createdAt",
        "databaseId",
        "id",
        "labels",
        "number",
        "reactions",
        "state",
        "title",
        "url",
    ),
    "IssueComment": (
        "author",
        "body",
        "createdAt",
        "databaseId",
        "id",
        "issue",
        "pullRequest",
        "reactions",
        "updatedAt",
        "url",
    ),
    "Label": ("color", "description", "id", "name", "url"),
    "Reaction": ("content", "createdAt", "databaseId", "id", "reactable", "user"),
    "PageInfo": ("endCursor", "hasNextPage", "hasPreviousPage", "startCursor"),
    "CommitEdge": ("cursor", "node"),
    "CommitConnection": ("edges", "nodes", "pageInfo", "totalCount"),
    "CommitHistoryConnection": ("edges", "nodes", "pageInfo", "totalCount"),
    "IssueCommentConnection": ("edges", "nodes", "pageInfo", "totalCount"),
    "IssueCommentEdge": ("cursor", "node"),
    "LabelConnection": ("edges", "nodes", "pageInfo", "totalCount"),
    "LabelEdge": ("cursor", "node"),
    "PullRequestConnection": ("edges", "nodes", "pageInfo", "totalCount"),
    "PullRequestEdge": ("cursor", "node"),
    "ReactionConnection": ("edges", "nodes", "pageInfo", "totalCount"),
    "ReactionEdge": ("cursor", "node"),
    "RefConnection": ("edges", "nodes", "pageInfo", "totalCount"),
    "RefEdge": ("cursor", "node"),
    "ReviewRequestConnection": ("edges", "nodes", "pageInfo", "totalCount"),
    "ReviewRequestEdge": ("cursor", "node"),
    "AddCommentPayload": ("clientMutationId", "commentEdge", "subject"),
    "AddLabelsToLabelablePayload": ("clientMutationId", "labelable"),
    "AddReactionPayload": ("clientMutationId", "reaction", "subject"),
    "ClosePullRequestPayload": ("clientMutationId", "pullRequest"),
    "CreateCommitOnBranchPayload": ("clientMutationId", "commit", "ref"),
    "CreatePullRequestPayload": ("clientMutationId", "pullRequest"),
    "CreateRefPayload": ("clientMutationId", "ref"),
    "DeleteRefPayload": ("clientMutationId",),
    "DisablePullRequestAutoMergePayload": ("actor", "clientMutationId", "pullRequest"),
    "EnablePullRequestAutoMergePayload": ("actor", "clientMutationId", "pullRequest"),
    "MergePullRequestPayload": ("actor", "clientMutationId", "pullRequest"),
    "RequestReviewsPayload": ("actor", "clientMutationId", "pullRequest"),
    "UpdatePullRequestPayload": ("actor", "clientMutationId", "pullRequest"),
    "UpdateRefPayload": ("clientMutationId", "ref"),
    "UpdateRefsPayload": ("clientMutationId",),
}


def trim_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for template, method in REST_OPERATIONS:
        item = spec["paths"][template]
        kept = paths.setdefault(template, {k: v for k, v in item.items() if k == "parameters"})
        kept[method] = _drop_examples(item[method])
    components: dict[str, dict[str, Any]] = {}
    pending = list(_refs(paths))
    while pending:
        ref = pending.pop()
        _, _, section, name = ref.split("/", 3)
        if name in components.get(section, {}):
            continue
        value = _drop_examples(spec["components"][section][name])
        components.setdefault(section, {})[name] = value
        pending.extend(_refs(value))
    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "servers": spec["servers"],
        "paths": paths,
        "components": {
            section: dict(sorted(v.items())) for section, v in sorted(components.items())
        },
    }


def _drop_examples(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_examples(v) for k, v in value.items() if k not in ("examples", "example")}
    if isinstance(value, list):
        return [_drop_examples(v) for v in value]
    return value


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def trim_schema(document: DocumentNode) -> str:
    definitions = {
        d.name.value: d for d in document.definitions if hasattr(d, "name") and d.name is not None
    }
    kept: dict[str, Any] = {}
    pending = list(GRAPHQL_FIELDS)
    while pending:
        name = pending.pop()
        if name in kept or name in BUILTIN_SCALARS:
            continue
        node = definitions[name]
        if isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            if name not in GRAPHQL_FIELDS:
                raise SystemExit(f"{name} is reached but not listed in GRAPHQL_FIELDS")
            wanted = set(GRAPHQL_FIELDS[name])
            fields = tuple(f for f in node.fields or () if f.name.value in wanted)
            missing = wanted - {f.name.value for f in fields}
            if missing:
                raise SystemExit(f"{name} has no fields {sorted(missing)}")
            interfaces = tuple(i for i in node.interfaces or () if i.name.value in GRAPHQL_FIELDS)
            kept[name] = (node, fields, interfaces)
            for field in fields:
                pending.extend(_field_types(field))
        elif isinstance(node, UnionTypeDefinitionNode):
            members = tuple(t for t in node.types or () if t.name.value in GRAPHQL_FIELDS)
            kept[name] = (node, members)
        elif isinstance(node, InputObjectTypeDefinitionNode):
            kept[name] = (node,)
            pending.extend(_named(f.type) for f in node.fields or ())
        elif isinstance(node, EnumTypeDefinitionNode | ScalarTypeDefinitionNode):
            kept[name] = (node,)
        else:
            raise SystemExit(f"unexpected definition {name}: {type(node).__name__}")
    pieces = [print_ast(d) for d in document.definitions if isinstance(d, DirectiveDefinitionNode)]
    for name in sorted(kept):
        entry = kept[name]
        node = entry[0]
        if isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            node = type(node)(
                description=node.description,
                name=node.name,
                interfaces=entry[2],
                directives=node.directives,
                fields=entry[1],
            )
        elif isinstance(node, UnionTypeDefinitionNode):
            node = UnionTypeDefinitionNode(
                description=node.description,
                name=node.name,
                directives=node.directives,
                types=entry[1],
            )
        pieces.append(print_ast(node))
    header = (
        "# GitHub's public GraphQL schema, trimmed by scripts/trim_github_fixtures.py to the\n"
        "# types and fields the sandbox resolves. Source: npm @octokit/graphql-schema 15.26.1\n"
        "# (MIT, see SCHEMA-LICENSE.md beside this file).\n"
    )
    return header + "\n\n".join(pieces) + "\n"


def _field_types(field: FieldDefinitionNode) -> Iterator[str]:
    yield _named(field.type)
    for arg in field.arguments or ():
        yield _named(arg.type)


def _named(node: TypeNode) -> str:
    while isinstance(node, NonNullTypeNode | ListTypeNode):
        node = node.type
    assert isinstance(node, NamedTypeNode)
    return node.name.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared/github")
    source: Path = parser.parse_args().source
    spec = json.loads((source / "openapi/api.github.com.json").read_text(encoding="utf-8"))
    OPENAPI_OUT.write_text(json.dumps(trim_openapi(spec), indent=1) + "\n", encoding="utf-8")
    sdl = (source / "graphql/schema.graphql").read_text(encoding="utf-8")
    SCHEMA_OUT.write_text(trim_schema(parse(sdl, no_location=True)), encoding="utf-8")
    shutil.copyfile(source / "graphql/LICENSE.md", SCHEMA_OUT.parent / "SCHEMA-LICENSE.md")
    shutil.copyfile(source / "openapi/LICENSE", OPENAPI_OUT.parent / "LICENSE")
    WEBHOOKS_OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "webhook-examples/LICENSE.md", WEBHOOKS_OUT / "LICENSE.md")
    for event in WEBHOOK_EVENTS:
        shutil.copyfile(source / f"webhook-examples/{event}.json", WEBHOOKS_OUT / f"{event}.json")
    for path in (OPENAPI_OUT, SCHEMA_OUT):
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
