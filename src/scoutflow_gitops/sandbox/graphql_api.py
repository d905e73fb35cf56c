"""GitHub's GraphQL API, executed by graphql-core against GitHub's own schema (trimmed).

The schema decides which fields exist and what shape an answer has; the views in
``graphql_views`` say where each value comes from, and ``Root`` holds the queries and the
mutations (graphql-core runs a document's mutations one after the other, and a failing one
leaves null and an error while the next still runs).
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import cache
from importlib.resources import files
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema, execute_sync, parse, validate

from scoutflow_gitops.sandbox.access import REVIEW_NEED, Need
from scoutflow_gitops.sandbox.graphql_views import (
    REACTION_CONTENT,
    BlobView,
    CommitView,
    Context,
    GitActorView,
    GraphQLFailure,
    IssueCommentView,
    IssueLike,
    IssueView,
    LabelView,
    PullRequestCommitView,
    PullRequestReviewView,
    PullRequestView,
    ReactionView,
    RefView,
    RepositoryView,
    StatusCheckRollupView,
    TeamView,
    TreeEntryView,
    TreeView,
    UserView,
    cursor,
    node_of,
    resolve_node,
)
from scoutflow_gitops.sandbox.model import (
    Label,
    RefUpdate,
    Repo,
    ReviewRefused,
    SandboxError,
    not_found,
    parse_node_id,
)
from scoutflow_gitops.sandbox.shapes import JSON


@cache
def schema() -> GraphQLSchema:
    sdl = files("scoutflow_gitops.sandbox").joinpath("data/schema.graphql").read_text("utf-8")
    built = build_schema(sdl, assume_valid_sdl=True)
    # GitHub's SDL breaks a few of graphql-core's strict schema rules (see
    # tests/fixtures/github/README.md); marking the schema as checked lets documents validate.
    built._validation_errors = []
    return built


def run_query(ctx: Context, body: object) -> JSON:
    """The JSON answer GitHub gives for one POST /graphql body (always HTTP 200)."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return {
            "errors": [{"message": "A query attribute must be specified and must be a string."}]
        }
    variables = body.get("variables") or {}
    try:
        document = parse(body["query"])
    except GraphQLError as exc:
        return {"errors": [_validation_error(exc)]}
    problems = validate(schema(), document)
    if problems:
        return {"errors": [_validation_error(e) for e in problems]}
    result = execute_sync(
        schema(),
        document,
        root_value=Root(ctx),
        context_value=ctx,
        variable_values=variables if isinstance(variables, dict) else {},
        operation_name=body.get("operationName"),
        field_resolver=_resolve_field,
        type_resolver=_resolve_type,
    )
    answer: JSON = {"data": result.data}
    if result.errors:
        answer["errors"] = [_execution_error(e) for e in result.errors]
    return answer


def _validation_error(error: GraphQLError) -> JSON:
    body: JSON = {"message": error.message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return body


def _execution_error(error: GraphQLError) -> JSON:
    original = error.original_error
    if isinstance(original, SandboxError):
        error_type, message = original.graphql_type, _detail(original)
    elif isinstance(original, GraphQLFailure):
        error_type, message = original.type, original.message
    elif original is None:
        error_type, message = "", error.message
    else:
        raise original
    body: JSON = {"message": message}
    if error_type:
        body = {"type": error_type, **body}
    if error.path:
        body["path"] = list(error.path)
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return body


def _detail(error: SandboxError) -> str:
    """GraphQL shows the specific reason where REST says "Validation Failed"."""
    for item in error.errors:
        if "message" in item:
            return item["message"]
    return error.message


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@cache
def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _resolve_field(source: Any, info: Any, **args: Any) -> Any:
    name = info.field_name
    if isinstance(source, dict):
        return source.get(name)
    ctx: Context = info.context
    parent = info.parent_type.name
    if parent == "Mutation":
        _authorize_mutation(ctx, name, args.get("input") or {})
    else:
        need = FIELD_NEEDS.get((parent, name))
        repo = getattr(source, "repo", None)
        if need is not None and isinstance(repo, Repo) and ctx.grant is not None:
            ctx.sandbox.access.require(ctx.grant, repo, need)
    value = getattr(source, snake(name))
    if callable(value):
        return value(**{snake(k): v for k, v in args.items()})
    return value


# What reading a field needs beyond seeing its repository (GitHub's App permissions).
_READ_CONTENTS = Need("contents", "read")
_READ_PULLS = Need("pull_requests", "read")
_READ_ISSUES = Need("issues", "read", ("pull_requests",))
FIELD_NEEDS: dict[tuple[str, str], Need] = {
    ("Repository", "object"): _READ_CONTENTS,
    ("Commit", "history"): _READ_CONTENTS,
    ("Commit", "file"): _READ_CONTENTS,
    ("Commit", "tree"): _READ_CONTENTS,
    ("Commit", "message"): _READ_CONTENTS,
    ("Commit", "messageHeadline"): _READ_CONTENTS,
    ("Commit", "messageBody"): _READ_CONTENTS,
    ("Repository", "pullRequests"): _READ_PULLS,
    ("Repository", "pullRequest"): _READ_PULLS,
    ("Ref", "associatedPullRequests"): _READ_PULLS,
    ("Commit", "associatedPullRequests"): _READ_PULLS,
    ("Repository", "issue"): _READ_ISSUES,
    ("Issue", "comments"): _READ_ISSUES,
    ("PullRequest", "comments"): _READ_ISSUES,
    # Pull request fields a pull request can be reached without (an issue comment's
    # ``pullRequest``) hold the permission every other way to them needs.
    ("PullRequest", "editor"): _READ_PULLS,
    ("PullRequest", "lastEditedAt"): _READ_PULLS,
    ("PullRequest", "commits"): _READ_PULLS,
    ("PullRequestReview", "authorCanPushToRepository"): _READ_PULLS,
}
NODE_NEEDS: dict[str, Need] = {
    "PullRequestView": _READ_PULLS,
    "PullRequestCommitView": _READ_PULLS,
    "IssueView": _READ_ISSUES,
    "IssueCommentView": _READ_ISSUES,
    "CommitView": _READ_CONTENTS,
    "TreeView": _READ_CONTENTS,
    "BlobView": _READ_CONTENTS,
}
_WRITE_CONTENTS = Need("contents", "write")
_WRITE_PULLS = Need("pull_requests", "write")
_WRITE_ISSUES = Need("issues", "write", ("pull_requests",))
MUTATION_NEEDS: dict[str, Need] = {
    "createRef": _WRITE_CONTENTS,
    "updateRef": _WRITE_CONTENTS,
    "updateRefs": _WRITE_CONTENTS,
    "deleteRef": _WRITE_CONTENTS,
    "createCommitOnBranch": _WRITE_CONTENTS,
    "mergePullRequest": _WRITE_CONTENTS,
    "createPullRequest": _WRITE_PULLS,
    "updatePullRequest": _WRITE_PULLS,
    "closePullRequest": _WRITE_PULLS,
    "requestReviews": _WRITE_PULLS,
    "enablePullRequestAutoMerge": _WRITE_PULLS,
    "disablePullRequestAutoMerge": _WRITE_PULLS,
    "addPullRequestReview": REVIEW_NEED,
    "addComment": _WRITE_ISSUES,
    "addReaction": _WRITE_ISSUES,
    "addLabelsToLabelable": _WRITE_ISSUES,
}
# The input fields that name what a mutation changes, in the order they are looked at.
_TARGET_IDS = ("repositoryId", "pullRequestId", "labelableId", "subjectId", "refId")


def _authorize_mutation(ctx: Context, name: str, input: JSON) -> None:
    """Refuse a mutation on a repository the token cannot see (NOT_FOUND) or may not change
    (FORBIDDEN), before it runs."""
    if ctx.grant is None:
        return
    repo = _mutation_repo(ctx, input)
    if repo is None:
        return  # the mutation itself answers NOT_FOUND for an id that resolves to nothing
    if not ctx.sandbox.access.can_see(ctx.grant, repo):
        raise not_found(f"Could not resolve to a Repository with the name '{repo.full_name}'.")
    ctx.sandbox.access.require(ctx.grant, repo, MUTATION_NEEDS.get(name, _WRITE_CONTENTS))


def _mutation_repo(ctx: Context, input: JSON) -> Repo | None:
    for key in _TARGET_IDS:
        value = input.get(key)
        if isinstance(value, str):
            try:
                found = resolve_node(ctx, value)
            except SandboxError:
                return None
            repo = getattr(found, "repo", None)
            return repo if isinstance(repo, Repo) else None
    branch = input.get("branch")
    if isinstance(branch, dict):
        if isinstance(branch.get("id"), str):
            return _mutation_repo(ctx, {"refId": branch["id"]})
        owner_name = branch.get("repositoryNameWithOwner")
        if isinstance(owner_name, str):
            return ctx.sandbox.repos.get(owner_name.lower())
    return None


def _resolve_type(value: Any, info: Any, abstract_type: Any) -> str:
    return str(value.typename)


# -- root: queries and mutations -----------------------------------------------------------------


class Root:
    """The Query and Mutation roots; graphql-core runs a document's mutations one at a time."""

    id = "QUERY_ROOT"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # queries

    def repository(
        self, owner: str, name: str, follow_renames: bool | None = None
    ) -> RepositoryView:
        found = self.ctx.sandbox.repos.get(f"{owner}/{name}".lower())
        grant = self.ctx.grant
        # A private repository the token cannot reach does not exist for it.
        if found is None or (
            grant is not None and not self.ctx.sandbox.access.can_see(grant, found)
        ):
            raise not_found(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return RepositoryView(self.ctx, found)

    def node(self, id: str) -> Any:
        return self._visible(resolve_node(self.ctx, id), id)

    def nodes(self, ids: list[str]) -> list[Any]:
        return [self._visible(resolve_node(self.ctx, value), value) for value in ids]

    def _visible(self, found: Any, value: str) -> Any:
        repo = getattr(found, "repo", None)
        grant = self.ctx.grant
        if isinstance(repo, Repo) and grant is not None:
            if not self.ctx.sandbox.access.can_see(grant, repo):
                raise not_found(f"Could not resolve to a node with the global id of '{value}'")
            # A node is held to the permission its kind needs, as the same object reached
            # through its repository is.
            need = NODE_NEEDS.get(type(found).__name__)
            if need is not None:
                self.ctx.sandbox.access.require(grant, repo, need)
        return found

    def user(self, login: str) -> UserView:
        found = self.ctx.sandbox.users.get(login.lower())
        if found is None or found.type != "User":
            raise not_found(f"Could not resolve to a User with the login of '{login}'.")
        return UserView(self.ctx, found)

    def viewer(self) -> UserView:
        return UserView(self.ctx, self.ctx.viewer, as_user=True)

    # mutations

    def _payload(self, input: JSON, **fields: Any) -> JSON:
        return {"clientMutationId": input.get("clientMutationId"), **fields}

    def _pull(self, pull_request_id: str) -> PullRequestView:
        view: PullRequestView = node_of(self.ctx, pull_request_id, PullRequestView)
        return view

    def create_ref(self, input: JSON) -> JSON:
        repo = node_of(self.ctx, input["repositoryId"], RepositoryView).repo
        name = input["name"]
        if repo.git.ref(name) is not None:
            raise SandboxError(422, f'A ref named "{name}" already exists in the repository.')
        self.ctx.sandbox.create_ref(repo, name, input["oid"])
        return self._payload(input, ref=RefView(self.ctx, repo, name))

    def update_ref(self, input: JSON) -> JSON:
        ref = node_of(self.ctx, input["refId"], RefView)
        self.ctx.sandbox.update_ref(
            ref.repo, ref.qualified, input["oid"], force=bool(input.get("force"))
        )
        return self._payload(input, ref=ref)

    def update_refs(self, input: JSON) -> JSON:
        repo = node_of(self.ctx, input["repositoryId"], RepositoryView).repo
        self.ctx.sandbox.update_refs(
            repo,
            [
                RefUpdate(
                    name=update["name"],
                    after=update["afterOid"],
                    before=update.get("beforeOid"),
                    force=bool(update.get("force")),
                )
                for update in input["refUpdates"]
            ],
        )
        return self._payload(input)

    def delete_ref(self, input: JSON) -> JSON:
        ref = node_of(self.ctx, input["refId"], RefView)
        self.ctx.sandbox.delete_ref(ref.repo, ref.qualified)
        return self._payload(input)

    def create_commit_on_branch(self, input: JSON) -> JSON:
        sandbox = self.ctx.sandbox
        branch = input["branch"]
        if branch.get("id"):
            ref = node_of(self.ctx, branch["id"], RefView)
            repo, qualified = ref.repo, ref.qualified
        else:
            owner_name = branch.get("repositoryNameWithOwner")
            branch_name = branch.get("branchName")
            if not owner_name or not branch_name:
                raise SandboxError(
                    422,
                    "Either branch.id or branch.repositoryNameWithOwner and branch.branchName "
                    "must be provided.",
                )
            repo = self.root_repo(owner_name)
            qualified = f"refs/heads/{branch_name.removeprefix('refs/heads/')}"
        head = repo.git.ref(qualified)
        if head is None:
            raise not_found(f'Could not resolve to a Ref with the name "{qualified}".')
        changes: dict[str, bytes | None] = {}
        tree = repo.git.flat_tree(repo.git.commit_info(head).tree)
        file_changes = input.get("fileChanges") or {}
        for deletion in file_changes.get("deletions") or ():
            path = deletion["path"].strip("/")
            if path not in tree:
                raise SandboxError(
                    422,
                    "A path was requested for deletion which does not exist as of commit oid "
                    f"`{head}`",
                )
            changes[path] = None
        for addition in file_changes.get("additions") or ():
            try:
                changes[addition["path"].strip("/")] = base64.b64decode(
                    addition["contents"], validate=True
                )
            except binascii.Error:
                raise SandboxError(
                    422, f"The contents of {addition['path']} are not valid base64."
                ) from None
        message = input["message"]
        text = message["headline"] + (f"\n\n{message['body']}" if message.get("body") else "")
        sha = sandbox.commit_files(
            repo,
            qualified.removeprefix("refs/heads/"),
            changes,
            text,
            # "authored by the owner of the credential which authenticates the API request"
            # (the mutation's description): the App's bot, github-actions[bot] or the user.
            author=sandbox.signature(self.ctx.viewer),
            committer=sandbox.web_flow_signature(),
            expected_head=input["expectedHeadOid"],
        )
        return self._payload(
            input, commit=CommitView(self.ctx, repo, sha), ref=RefView(self.ctx, repo, qualified)
        )

    def root_repo(self, name_with_owner: str) -> Repo:
        try:
            found = self.ctx.sandbox.repo(name_with_owner)
            grant = self.ctx.grant
            if grant is not None and not self.ctx.sandbox.access.can_see(grant, found):
                raise not_found()
            return found
        except SandboxError:
            raise not_found(
                f"Could not resolve to a Repository with the name '{name_with_owner}'."
            ) from None

    def create_pull_request(self, input: JSON) -> JSON:
        repo = node_of(self.ctx, input["repositoryId"], RepositoryView).repo
        if input.get("headRepositoryId") and input["headRepositoryId"] != repo.node_id:
            raise SandboxError(422, "Pull requests from forks are not simulated by the sandbox.")
        issue = self.ctx.sandbox.create_pull(
            repo,
            self.ctx.viewer,
            head=input["headRefName"],
            base=input["baseRefName"],
            title=input["title"],
            body=input.get("body"),
            draft=bool(input.get("draft")),
        )
        return self._payload(input, pullRequest=PullRequestView(self.ctx, repo, issue))

    def update_pull_request(self, input: JSON) -> JSON:
        view = self._pull(input["pullRequestId"])
        for unsupported in ("assigneeIds", "milestoneId", "projectIds"):
            if input.get(unsupported):
                raise SandboxError(422, f"{unsupported} is not simulated by the sandbox.")
        sandbox = self.ctx.sandbox
        issue = view.issue_record
        if input.get("labelIds") is not None:
            labels = [self._label(view.repo, label_id) for label_id in input["labelIds"]]
            sandbox.add_labels(view.repo, issue, [label.name for label in labels], replace=True)
        state = input.get("state")
        sandbox.update_pull(
            view.repo,
            issue,
            self.ctx.viewer,
            title=input.get("title"),
            body=input.get("body"),
            state=state.lower() if state else None,
            base=input.get("baseRefName"),
        )
        return self._payload(
            input,
            pullRequest=PullRequestView(self.ctx, view.repo, issue),
            actor=UserView(self.ctx, self.ctx.viewer),
        )

    def _label(self, repo: Repo, label_id: str) -> Label:
        found = node_of(self.ctx, label_id, LabelView)
        if found.repo is not repo:
            raise not_found(f"Could not resolve to a node with the global id of '{label_id}'")
        label: Label = repo.labels[found.name.lower()]
        return label

    def enable_pull_request_auto_merge(self, input: JSON) -> JSON:
        view = self._pull(input["pullRequestId"])
        self.ctx.sandbox.enable_auto_merge(
            view.repo,
            view.issue_record,
            self.ctx.viewer,
            method=(input.get("mergeMethod") or "MERGE").lower(),
            title=input.get("commitHeadline"),
            message=input.get("commitBody"),
            expected_head=input.get("expectedHeadOid"),
        )
        return self._pull_payload(input, view)

    def disable_pull_request_auto_merge(self, input: JSON) -> JSON:
        view = self._pull(input["pullRequestId"])
        self.ctx.sandbox.disable_auto_merge(view.issue_record)
        return self._pull_payload(input, view)

    def merge_pull_request(self, input: JSON) -> JSON:
        view = self._pull(input["pullRequestId"])
        self.ctx.sandbox.merge_pull(
            view.repo,
            view.issue_record,
            self.ctx.viewer,
            sha=input.get("expectedHeadOid"),
            method=(input.get("mergeMethod") or "MERGE").lower(),
            title=input.get("commitHeadline"),
            message=input.get("commitBody"),
        )
        return self._pull_payload(input, view)

    def add_pull_request_review(self, input: JSON) -> JSON:
        view = self._pull(input["pullRequestId"])
        if input.get("comments") or input.get("threads"):
            raise SandboxError(422, "Review comments are not simulated by the sandbox.")
        event = input.get("event")
        if event == "DISMISS":
            raise SandboxError(422, "A review cannot be dismissed by adding a review.")
        try:
            review = self.ctx.sandbox.submit_review(
                view.repo,
                view.issue_record,
                self.ctx.viewer,
                event=event,
                body=input.get("body"),
                commit_id=input.get("commitOID"),
            )
        except ReviewRefused as refused:
            # GraphQL names the record it refused: "Review Can not approve your own ...".
            raise SandboxError(422, f"Review {refused.reason}") from None
        return self._payload(
            input,
            pullRequestReview=PullRequestReviewView(self.ctx, view.repo, view.issue_record, review),
        )

    def close_pull_request(self, input: JSON) -> JSON:
        view = self._pull(input["pullRequestId"])
        self.ctx.sandbox.update_pull(view.repo, view.issue_record, self.ctx.viewer, state="closed")
        return self._pull_payload(input, view, with_actor=False)

    def _pull_payload(self, input: JSON, view: PullRequestView, *, with_actor: bool = True) -> JSON:
        fresh = PullRequestView(self.ctx, view.repo, view.issue_record)
        if not with_actor:
            return self._payload(input, pullRequest=fresh)
        return self._payload(input, pullRequest=fresh, actor=UserView(self.ctx, self.ctx.viewer))

    def add_labels_to_labelable(self, input: JSON) -> JSON:
        target = node_of(self.ctx, input["labelableId"], IssueLike)
        labels = [self._label(target.repo, label_id) for label_id in input["labelIds"]]
        self.ctx.sandbox.add_labels(target.repo, target.issue_record, [lbl.name for lbl in labels])
        fresh = type(target)(self.ctx, target.repo, target.issue_record)
        return self._payload(input, labelable=fresh)

    def request_reviews(self, input: JSON) -> JSON:
        view = self._pull(input["pullRequestId"])
        users = [node_of(self.ctx, uid, UserView).user for uid in input.get("userIds") or ()]
        teams = []
        for team_id in input.get("teamIds") or ():
            kind, parts = parse_node_id(team_id)
            if kind != "T" or len(parts) != 2 or parts[0].lower() != view.repo.owner.login.lower():
                raise not_found(f"Could not resolve to a node with the global id of '{team_id}'")
            teams.append(parts[1])
        self.ctx.sandbox.request_reviewers(
            view.repo, view.issue_record, users, teams, replace=not input.get("union")
        )
        return self._pull_payload(input, view)

    def add_comment(self, input: JSON) -> JSON:
        target = node_of(self.ctx, input["subjectId"], IssueLike)
        comment = self.ctx.sandbox.add_comment(
            target.repo, target.issue_record, self.ctx.viewer, input["body"]
        )
        index = target.issue_record.comments.index(comment)
        edge = {"cursor": cursor(index), "node": IssueCommentView(self.ctx, target.repo, comment)}
        return self._payload(input, commentEdge=edge, subject=target)

    def add_reaction(self, input: JSON) -> JSON:
        subject = node_of(self.ctx, input["subjectId"], IssueLike, IssueCommentView)
        reactions = (
            subject.comment.reactions
            if isinstance(subject, IssueCommentView)
            else subject.issue_record.reactions
        )
        reaction, _ = self.ctx.sandbox.add_reaction(
            reactions, self.ctx.viewer, REACTION_CONTENT[input["content"]]
        )
        return self._payload(
            input, reaction=ReactionView(self.ctx, subject.repo, reaction, subject), subject=subject
        )


def type_views() -> dict[str, type]:
    """Which class answers each object type, for the test that every schema field resolves."""
    return {
        "Query": Root,
        "Mutation": Root,
        "Repository": RepositoryView,
        "Ref": RefView,
        "Commit": CommitView,
        "Tree": TreeView,
        "TreeEntry": TreeEntryView,
        "Blob": BlobView,
        "GitActor": GitActorView,
        "StatusCheckRollup": StatusCheckRollupView,
        "Label": LabelView,
        "Reaction": ReactionView,
        "Issue": IssueView,
        "PullRequest": PullRequestView,
        "PullRequestReview": PullRequestReviewView,
        "PullRequestCommit": PullRequestCommitView,
        "IssueComment": IssueCommentView,
        "User": UserView,
        "Bot": UserView,
        "Team": TeamView,
    }
