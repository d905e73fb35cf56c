"""The adapter's writes and merge requests, against GitHub-shaped answers (`responses`).

Every GraphQL request the adapter sends here is checked against GitHub's GraphQL schema (the
trimmed copy the simulator serves, src/scoutflow_gitops/sandbox/data/schema.graphql): the
document validates and its variables coerce to the declared input types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from importlib.resources import files
from typing import Any

import pytest
import responses
from graphql import GraphQLSchema, OperationDefinitionNode, build_schema, parse, validate
from graphql.execution.values import get_variable_values

from scoutflow_gitops import github
from scoutflow_gitops.config import BOT_BRANCH_PREFIX, MergeMethod
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.github import GitHubHost, connect
from scoutflow_gitops.model import FileChange, MergeSettings, PullRequest, PullRequestStatus
from scoutflow_gitops.port import ConflictError, MergeAnswer, PublishRequest
from scoutflow_gitops.retry import Retrier, RetryPolicy

API = "http://api.github.test:8080"
GRAPHQL = f"{API}/graphql"
BASE = "a" * 40
BRANCH_OID = "b" * 40
COMMIT = "c" * 40
ZERO = "0" * 40
BRANCH = "scoutflow-gitops/bump-dev-stage"
PR = PullRequest("PR_kw1", 7, "https://github.test/o/r/pull/7", BRANCH_OID, "Old", "old body")


def _schema() -> GraphQLSchema:
    sdl = files("scoutflow_gitops.sandbox").joinpath("data/schema.graphql").read_text("utf-8")
    built = build_schema(sdl, assume_valid_sdl=True)
    # GitHub's SDL breaks a few of graphql-core's strict schema rules (an interface field a type
    # lacks); documents still validate once the schema counts as checked.
    built._validation_errors = []
    return built


SCHEMA = _schema()


def pr_node(**fields: object) -> dict[str, object]:
    node: dict[str, object] = {
        "id": PR.id,
        "number": PR.number,
        "url": PR.url,
        "headRefName": BRANCH,
        "headRefOid": COMMIT,
        "title": "Deploy ccccccc to dev",
        "body": "new body",
        "state": "OPEN",
        "labels": {"nodes": []},
        "reviewRequests": {"totalCount": 0},
        "headRef": {"target": {"oid": COMMIT}},
        "mergeStateStatus": "UNKNOWN",
        "mergeable": "UNKNOWN",
        "isDraft": False,
        "autoMergeRequest": None,
    }
    node.update(fields)
    return node


def problem(field: str, message: str, kind: str = "UNPROCESSABLE") -> dict[str, object]:
    """One GraphQL error as GitHub shapes it: type, path, locations, message."""
    return {
        "type": kind,
        "path": [field],
        "locations": [{"line": 2, "column": 3}],
        "message": message,
    }


class GraphQLEndpoint:
    """Answers POST /graphql from a script, in order, and keeps what was sent."""

    def __init__(self) -> None:
        self.script: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        # The REST mock beside it, for the few writes that are REST calls.
        self.mock: responses.RequestsMock | None = None

    def expect_reply(self, number: int) -> None:
        """The comment the bot posts on PR ``number`` (REST), answered as GitHub does."""
        assert self.mock is not None
        self.mock.add(
            responses.POST,
            f"{API}/repos/o/r/issues/{number}/comments",
            json={"id": 1, "html_url": f"https://github.test/o/r/pull/{number}#c1", "body": ""},
            status=201,
        )

    def answer(
        self, data: Mapping[str, Any] | None, errors: Sequence[Mapping[str, object]] = ()
    ) -> None:
        body: dict[str, Any] = {"data": dict(data) if data is not None else None}
        if errors:
            body["errors"] = list(errors)
        self.script.append(body)

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        sent = json.loads(request.body)
        document = parse(sent["query"])
        problems = validate(SCHEMA, document)
        assert not problems, problems
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        coerced = get_variable_values(
            SCHEMA, operation.variable_definitions or (), sent["variables"]
        )
        assert not isinstance(coerced, list), coerced  # a list holds the coercion errors
        self.sent.append(sent)
        assert self.script, f"unexpected request: {sent['query'][:60]}"
        return 200, {"Date": "Fri, 27 Nov 2026 12:00:00 GMT"}, json.dumps(self.script.pop(0))

    def operations(self) -> list[str]:
        return [re.search(r"(query|mutation) (\w+)", s["query"]).group(2) for s in self.sent]  # type: ignore[union-attr]


@pytest.fixture
def endpoint() -> Iterator[GraphQLEndpoint]:
    fake = GraphQLEndpoint()
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, GRAPHQL, callback=fake)
        fake.mock = mock
        yield fake
    assert not fake.script, "every scripted answer was asked for"


@pytest.fixture
def host() -> GitHubHost:
    connection = connect(api_url=API, token="t0ken", repository="o/r", write_interval=None)
    retrier = Retrier(RetryPolicy(attempts=1), sleep=lambda _seconds: None)
    return GitHubHost(connection, "https://github.test", retrier)


def request(
    pull_request: PullRequest | None = PR, branch_oid: str | None = BRANCH_OID
) -> PublishRequest:
    return PublishRequest(
        repository="o/r",
        repository_id="R_1",
        branch=BRANCH,
        branch_oid=branch_oid,
        base_branch="main",
        base_oid=BASE,
        headline="Deploy ccccccc to dev",
        message_body="",
        changes=(
            FileChange("environments/dev/values.yaml", b"imageTag: c\n"),
            FileChange(".github/holds/dev.yml", None),
        ),
        pull_request=pull_request,
        title="Deploy ccccccc to dev",
        body="new body",
    )


def ref_updates(sent: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(sent["variables"]["refs"]["refUpdates"])


# -- an open PR: never a zero-commit moment -----------------------------------------------------


def script_update(endpoint: GraphQLEndpoint, read: dict[str, object] | None = None) -> None:
    endpoint.answer(
        {
            "updateRefs": {"clientMutationId": None},
            "createCommitOnBranch": {"commit": {"oid": COMMIT}},
        }
    )
    endpoint.answer({"updateRefs": {"clientMutationId": None}})
    endpoint.answer({"node": read if read is not None else pr_node(headRefOid=BRANCH_OID)})
    endpoint.answer(
        {
            "updatePullRequest": {
                "pullRequest": pr_node(mergeStateStatus="CLEAN", mergeable="MERGEABLE")
            }
        }
    )


def test_an_open_prs_branch_moves_onto_a_commit_made_elsewhere_in_one_swap(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    """GitHub closes a PR whose branch has no commit ahead of its base, for good
    (genuinetools/binctr#2: "It got closed because the branch got force pushed with no new
    commits. Github closes PRs like that automatically"; gfx-rs/metal-rs#323; reopening is
    blocked once the head was rewritten, isaacs/github#361). So the commit is made on a scratch
    branch created at the base (``createCommitOnBranch`` needs a branch), and one ``updateRefs``
    moves the PR's branch onto it by compare-and-swap and deletes the scratch branch: "All
    updates are performed atomically", ``beforeOid`` all zeros "verify that the references
    should not exist", ``afterOid`` all zeros deletes (GraphQL schema, Mutation.updateRefs)."""
    script_update(endpoint)
    published = host.publish(request())

    prepare, move, read, retitle = endpoint.sent
    assert endpoint.operations() == [
        "PrepareCommit",
        "MoveRefs",
        "PullRequestStatus",
        "UpdatePullRequest",
    ]
    (create,) = ref_updates(prepare)
    scratch = create["name"]
    assert create["beforeOid"] == ZERO and create["afterOid"] == BASE
    assert re.fullmatch(r"refs/heads/scoutflow-gitops-scratch/bump-dev-stage-[0-9a-f]{12}", scratch)
    assert not scratch.startswith(f"refs/heads/{BOT_BRANCH_PREFIX}")
    commit = prepare["variables"]["commit"]
    assert commit["branch"] == {
        "repositoryNameWithOwner": "o/r",
        "branchName": scratch.removeprefix("refs/heads/"),
    }
    assert commit["expectedHeadOid"] == BASE
    assert commit["fileChanges"]["deletions"] == [{"path": ".github/holds/dev.yml"}]
    assert move["variables"]["refs"]["refUpdates"] == [
        {
            "name": f"refs/heads/{BRANCH}",
            "beforeOid": BRANCH_OID,
            "afterOid": COMMIT,
            "force": True,
        },
        {"name": scratch, "beforeOid": COMMIT, "afterOid": ZERO, "force": True},
    ]
    # The PR's branch is never pointed at the base, in any request.
    for sent in endpoint.sent:
        for update in sent["variables"].get("refs", {}).get("refUpdates", []):
            assert not (update["name"] == f"refs/heads/{BRANCH}" and update["afterOid"] == BASE)
    assert read["variables"] == {"id": PR.id}
    assert retitle["variables"]["pr"] == {
        "pullRequestId": PR.id,
        "title": "Deploy ccccccc to dev",
        "body": "new body",
    }
    assert published.commit_oid == COMMIT and not published.created
    assert published.pull_request.title == "Deploy ccccccc to dev"
    assert published.status == PullRequestStatus("OPEN", COMMIT, COMMIT, "CLEAN", "MERGEABLE")


def test_each_update_uses_a_scratch_branch_of_its_own(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    """A scratch branch left behind by a crashed run never meets a later one."""
    script_update(endpoint)
    script_update(endpoint)
    host.publish(request())
    host.publish(request())
    first, second = (ref_updates(endpoint.sent[i])[0]["name"] for i in (0, 4))
    assert first != second


def test_a_pr_merged_meanwhile_is_never_retitled(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    """Merging does not move a PR's branch, so the branch's compare-and-swap cannot tell that a
    concurrent job merged the PR: it is read after the branch moved, and left alone."""
    endpoint.answer(
        {
            "updateRefs": {"clientMutationId": None},
            "createCommitOnBranch": {"commit": {"oid": COMMIT}},
        }
    )
    endpoint.answer({"updateRefs": {"clientMutationId": None}})
    endpoint.answer({"node": pr_node(state="MERGED", headRefOid=BRANCH_OID)})
    with pytest.raises(ConflictError, match="merged or closed meanwhile"):
        host.publish(request())
    assert "UpdatePullRequest" not in endpoint.operations()


def test_a_branch_moved_meanwhile_loses_the_swap_and_the_scratch_branch_is_dropped(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    endpoint.answer(
        {
            "updateRefs": {"clientMutationId": None},
            "createCommitOnBranch": {"commit": {"oid": COMMIT}},
        }
    )
    endpoint.answer(
        {"updateRefs": None},
        [problem("updateRefs", f"Ref refs/heads/{BRANCH} is at {'d' * 40}, not {BRANCH_OID}")],
    )
    endpoint.answer({"updateRefs": {"clientMutationId": None}})
    with pytest.raises(ConflictError, match="is at"):
        host.publish(request())
    scratch = ref_updates(endpoint.sent[0])[0]["name"]
    assert ref_updates(endpoint.sent[2]) == [
        {"name": scratch, "beforeOid": COMMIT, "afterOid": ZERO, "force": True}
    ]
    assert endpoint.operations() == ["PrepareCommit", "MoveRefs", "MoveRefs"]


def test_a_commit_that_failed_drops_the_scratch_branch_it_was_meant_for(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    endpoint.answer(
        {"updateRefs": {"clientMutationId": None}, "createCommitOnBranch": None},
        [problem("createCommitOnBranch", "Expected branch to point to a commit")],
    )
    endpoint.answer({"updateRefs": None}, [problem("updateRefs", "Ref does not exist")])
    with pytest.raises(ConflictError):
        host.publish(request())
    assert ref_updates(endpoint.sent[1])[0]["beforeOid"] == BASE
    assert ref_updates(endpoint.sent[1])[0]["afterOid"] == ZERO


def test_a_token_that_may_not_write_is_a_clear_error_not_a_lost_race(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    endpoint.answer(
        {"updateRefs": None, "createCommitOnBranch": None},
        [problem("updateRefs", "Resource not accessible by integration", "FORBIDDEN")],
    )
    with pytest.raises(UserError) as caught:
        host.publish(request())
    assert "Resource not accessible by integration" in caught.value.message
    assert "contents: write" in caught.value.message.lower()
    assert "o/r" in caught.value.hint


# -- a new PR: today's single document -----------------------------------------------------------


@pytest.mark.parametrize("branch_oid", [None, BRANCH_OID], ids=["no branch", "branch, no PR"])
def test_a_new_pr_is_one_document_resetting_the_branch_it_owns_alone(
    host: GitHubHost, endpoint: GraphQLEndpoint, branch_oid: str | None
) -> None:
    """No PR is open on the branch, so resetting it to the base closes nothing."""
    endpoint.answer(
        {
            "updateRefs": {"clientMutationId": None},
            "createCommitOnBranch": {"commit": {"oid": COMMIT}},
            "createPullRequest": {"pullRequest": pr_node(baseRefOid=BASE)},
        }
    )
    published = host.publish(request(pull_request=None, branch_oid=branch_oid))
    (sent,) = endpoint.sent
    assert ref_updates(sent) == [
        {
            "name": f"refs/heads/{BRANCH}",
            "beforeOid": branch_oid or ZERO,
            "afterOid": BASE,
            "force": True,
        }
    ]
    assert sent["variables"]["commit"]["branch"]["branchName"] == BRANCH
    assert published.created and published.status is not None
    assert published.status.merge_state == "UNKNOWN"


def test_a_new_pr_on_a_base_that_moved_is_closed_with_its_branch_and_read_again(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    """``baseRefOid`` is not the base the plan read: another run merged in between."""
    endpoint.answer(
        {
            "updateRefs": {"clientMutationId": None},
            "createCommitOnBranch": {"commit": {"oid": COMMIT}},
            "createPullRequest": {"pullRequest": pr_node(baseRefOid="d" * 40)},
        }
    )
    endpoint.answer(
        {
            "closePullRequest": {"pullRequest": {"state": "CLOSED"}},
            "updateRefs": {"clientMutationId": None},
        }
    )
    endpoint.expect_reply(PR.number)
    with pytest.raises(ConflictError, match="main moved while PR #7 was being opened"):
        host.publish(request(pull_request=None, branch_oid=None))
    assert endpoint.operations() == ["Publish", "Withdraw"]
    taken_back = endpoint.sent[1]
    assert taken_back["variables"]["pr"] == {"pullRequestId": PR.id}
    # Deleted only while it is still at the commit this run made.
    assert ref_updates(taken_back) == [
        {"name": f"refs/heads/{BRANCH}", "beforeOid": COMMIT, "afterOid": ZERO, "force": True}
    ]


def test_a_pr_opened_on_another_runs_commit_is_closed_and_its_branch_kept(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    """The swap and the commit failed, yet ``createPullRequest`` ran on the branch another run
    left: that PR is not this run's, so it is closed and the other run's branch stays."""
    endpoint.answer(
        {
            "updateRefs": None,
            "createCommitOnBranch": None,
            "createPullRequest": {"pullRequest": pr_node(baseRefOid=BASE)},
        },
        errors=[problem("updateRefs", "A ref update was rejected", "STALE_DATA")],
    )
    endpoint.answer({"closePullRequest": {"pullRequest": {"state": "CLOSED"}}})
    endpoint.expect_reply(PR.number)
    with pytest.raises(ConflictError):
        host.publish(request(pull_request=None, branch_oid=None))
    assert endpoint.operations() == ["Publish", "Close"]
    assert "refs" not in endpoint.sent[1]["variables"]


# -- merging ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["squash", "merge", "rebase"])
def test_a_merge_names_the_method_and_the_head_and_carries_the_labels(
    host: GitHubHost, endpoint: GraphQLEndpoint, method: MergeMethod
) -> None:
    endpoint.answer(
        {
            "addLabelsToLabelable": {"clientMutationId": None},
            "mergePullRequest": {"pullRequest": {"merged": True, "mergeCommit": {"oid": "e" * 40}}},
        }
    )
    assert host.merge(PR, COMMIT, method, ["LA_1"]) == MergeAnswer(True, labelled=True)
    variables = endpoint.sent[0]["variables"]
    assert variables["merge"] == {
        "pullRequestId": PR.id,
        "expectedHeadOid": COMMIT,
        "mergeMethod": method.upper(),
    }
    assert variables["labels"] == {"labelableId": PR.id, "labelIds": ["LA_1"]}


def test_a_refused_merge_answers_githubs_words_for_the_merge_not_the_labels(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    """Mutations in one document fail one by one; each error names its field in ``path``."""
    endpoint.answer(
        {"addLabelsToLabelable": None, "mergePullRequest": None},
        [
            problem(
                "addLabelsToLabelable",
                "Could not resolve to a node with the global id of 'LA_1'",
                "NOT_FOUND",
            ),
            problem(
                "mergePullRequest", "Base branch was modified. Review and try the merge again."
            ),
        ],
    )
    answer = host.merge(PR, COMMIT, "squash", ["LA_1"])
    assert answer == MergeAnswer(False, "Base branch was modified. Review and try the merge again.")


def test_a_merge_without_labels_sends_the_merge_alone(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    endpoint.answer(
        {"mergePullRequest": None},
        [problem("mergePullRequest", "Head branch was modified.\nReview and try the merge again.")],
    )
    answer = host.merge(PR, COMMIT, "squash", [])
    assert endpoint.operations() == ["Merge"] and "labels" not in endpoint.sent[0]["variables"]
    # One line, whatever GitHub's text holds.
    assert answer.refusal == "Head branch was modified. Review and try the merge again."


def test_auto_merge_refused_in_clean_status_is_an_answer_not_an_exception(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    """GitHub's text doubles its prefix (peter-evans/enable-pull-request-automerge#1118:
    "Pull request Pull request is in clean status"; rjwalters/loom#3379 shows the type
    UNPROCESSABLE)."""
    endpoint.answer(
        {"addLabelsToLabelable": {"clientMutationId": None}, "enablePullRequestAutoMerge": None},
        [problem("enablePullRequestAutoMerge", "Pull request Pull request is in clean status")],
    )
    answer = host.start_merge(PR, COMMIT, "squash", ["LA_1"])
    assert answer == MergeAnswer(
        False, "Pull request Pull request is in clean status", labelled=True
    )
    assert endpoint.sent[0]["variables"]["merge"]["mergeMethod"] == "SQUASH"


def test_auto_merge_enabled(host: GitHubHost, endpoint: GraphQLEndpoint) -> None:
    endpoint.answer(
        {
            "enablePullRequestAutoMerge": {
                "pullRequest": {"autoMergeRequest": {"enabledAt": "2026-11-27T12:00:00Z"}}
            }
        }
    )
    assert host.start_merge(PR, COMMIT, "rebase", []) == MergeAnswer(True)
    assert endpoint.operations() == ["StartMerge"]


# -- reading the merge status ------------------------------------------------------------------


def test_the_merge_status_reads_the_head_beside_the_branch_tip(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    endpoint.answer(
        {
            "node": pr_node(
                headRefOid=BRANCH_OID,
                mergeStateStatus="BLOCKED",
                mergeable="MERGEABLE",
                autoMergeRequest={"enabledAt": "x"},
            )
        }
    )
    endpoint.answer({"node": pr_node(state="MERGED", headRef=None)})
    endpoint.answer({"node": None})
    assert host.read_pull_request(PR.id) == PullRequestStatus(
        "OPEN", BRANCH_OID, COMMIT, "BLOCKED", "MERGEABLE", auto_merge=True
    )
    deleted = host.read_pull_request(PR.id)
    assert deleted is not None and deleted.branch_oid is None and deleted.state == "MERGED"
    assert host.read_pull_request(PR.id) is None


def test_the_state_read_carries_the_repository_merge_settings(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    """``autoMergeAllowed``, ``squashMergeAllowed``, ``mergeCommitAllowed``,
    ``rebaseMergeAllowed`` (GraphQL schema, type Repository) come with the one state read."""
    endpoint.answer(
        {
            "repository": {
                "id": "R_1",
                "autoMergeAllowed": False,
                "squashMergeAllowed": True,
                "mergeCommitAllowed": False,
                "rebaseMergeAllowed": True,
                "labels": {"nodes": []},
                "defaultBranchRef": {
                    "name": "main",
                    "target": {"oid": BASE, "config": None, "holds": None},
                },
                "refs": {"nodes": []},
            }
        }
    )
    state = host.read_gitops_state("o/r", ".github/scoutflow-gitops.yml")
    assert state.merge_settings == MergeSettings(
        auto_merge_allowed=False,
        squash_allowed=True,
        merge_commit_allowed=False,
        rebase_allowed=True,
    )


@pytest.mark.parametrize(
    "name",
    [
        "STATE_QUERY",
        "PULL_REQUEST_QUERY",
        "PUBLISH_NEW_MUTATION",
        "PREPARE_COMMIT_MUTATION",
        "MOVE_REFS_MUTATION",
        "UPDATE_PR_MUTATION",
        "AUTO_MERGE_MUTATION",
        "AUTO_MERGE_ONLY_MUTATION",
        "MERGE_MUTATION",
        "MERGE_ONLY_MUTATION",
    ],
)
def test_every_document_validates_against_githubs_schema(name: str) -> None:
    assert validate(SCHEMA, parse(getattr(github, name))) == []


def test_a_retried_take_back_of_a_pr_github_had_closed_is_done(
    host: GitHubHost, endpoint: GraphQLEndpoint
) -> None:
    """The close was applied but answered 502; its retry is refused as the PR is closed
    already. The PR's state, read once, says the take-back is done: one comment, no error."""
    endpoint.answer(
        {
            "updateRefs": {"clientMutationId": None},
            "createCommitOnBranch": {"commit": {"oid": COMMIT}},
            "createPullRequest": {"pullRequest": pr_node(baseRefOid="d" * 40)},
        }
    )
    endpoint.answer(
        {"closePullRequest": None, "updateRefs": None},
        errors=[
            problem("closePullRequest", "Pull request is already closed"),
            problem("updateRefs", "A ref update was rejected", "STALE_DATA"),
        ],
    )
    endpoint.answer(
        {
            "node": {
                "state": "CLOSED",
                "headRefOid": COMMIT,
                "headRef": None,
                "mergeStateStatus": "UNKNOWN",
                "mergeable": "UNKNOWN",
                "isDraft": False,
                "autoMergeRequest": None,
            }
        }
    )
    endpoint.expect_reply(PR.number)
    with pytest.raises(ConflictError, match="the PR was closed again"):
        host.publish(request(pull_request=None, branch_oid=None))
    assert endpoint.operations() == ["Publish", "Withdraw", "PullRequestStatus"]
