"""GitHub's rules for pull requests, as strict in the sandbox as on GitHub.

Mergeability is computed in the background, a pull request's head follows its branch late, a
branch with nothing left to merge closes its pull request, branch protection (required checks,
approvals, code owners, stale approvals) blocks merges with GitHub's texts. Each test's
docstring cites where the rule and its texts come from; "inferred" marks what no source shows.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from scoutflow_gitops.sandbox import Sandbox, seed_scoutflow
from scoutflow_gitops.sandbox.model import Timing
from scoutflow_gitops.sandbox.protection import owners_of, parse_codeowners
from tests.sandbox.fixtures import PROJECT_ROOT, LiveSandbox

GITOPS = "omerbh7/scoutflow-gitops"
REPO_PATH = f"/repos/{GITOPS}"
AUTH = {"Authorization": "token sandbox-token"}
PROD_VALUES = "environments/prod/values.yaml"


# -- helpers -------------------------------------------------------------------------------------


def api(live: LiveSandbox, method: str, path: str, body: object = None) -> requests.Response:
    return requests.request(method, live.url + path, json=body, headers=AUTH, timeout=10)


def control(live: LiveSandbox, method: str, path: str, body: object = None) -> Any:
    response = live.control(method, path, body)
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else None


def push(live: LiveSandbox, branch: str, files: dict[str, str | None]) -> str:
    sha: str = control(
        live, "POST", "/commits", {"repo": GITOPS, "branch": branch, "files": files}
    )["sha"]
    return sha


def branch(live: LiveSandbox, name: str, files: dict[str, str | None]) -> str:
    """A branch off main with one developer commit; its head."""
    with live.sandbox.lock:
        repo = live.sandbox.repo(GITOPS)
        live.sandbox.create_ref(repo, f"refs/heads/{name}", live.sandbox.branch_head(repo, "main"))
    return push(live, name, files)


def open_pull(
    live: LiveSandbox, name: str, files: dict[str, str | None] | None = None, **fields: object
) -> dict[str, Any]:
    """Open a pull request through REST; GitHub's answer (the first read of it)."""
    branch(live, name, files or {f"{name}.txt": f"{name}\n"})
    body = {"head": name, "base": "main", "title": f"Change {name}", **fields}
    response = api(live, "POST", f"{REPO_PATH}/pulls", body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def quiet_pull(live: LiveSandbox, name: str, files: dict[str, str | None] | None = None) -> str:
    """Open a pull request through GraphQL without reading its head or mergeability; its id."""
    branch(live, name, files or {f"{name}.txt": f"{name}\n"})
    answer = gql(
        live,
        """mutation($repo: ID!, $head: String!) { createPullRequest(input: {repositoryId: $repo,
             baseRefName: "main", headRefName: $head, title: "Quiet"}) { pullRequest { id } } }""",
        repo=repo_id(live),
        head=name,
    )
    pull_id: str = answer["data"]["createPullRequest"]["pullRequest"]["id"]
    return pull_id


def gql(live: LiveSandbox, document: str, **variables: object) -> dict[str, Any]:
    answer: dict[str, Any] = live.graphql(document, variables)
    return answer


def read_node(live: LiveSandbox, pull_id: str) -> str:
    """One read of a pull request by id: its mergeStateStatus."""
    answer = gql(
        live,
        "query($id: ID!) { node(id: $id) { ... on PullRequest { mergeStateStatus } } }",
        id=pull_id,
    )
    state: str = answer["data"]["node"]["mergeStateStatus"]
    return state


def repo_id(live: LiveSandbox) -> str:
    answer = gql(live, '{ repository(owner: "omerbh7", name: "scoutflow-gitops") { id } }')
    value: str = answer["data"]["repository"]["id"]
    return value


def rest_state(live: LiveSandbox, number: int) -> tuple[bool | None, str]:
    pull = api(live, "GET", f"{REPO_PATH}/pulls/{number}").json()
    return pull["mergeable"], pull["mergeable_state"]


PULL_STATE = """query($n: Int!) { repository(owner: "omerbh7", name: "scoutflow-gitops") {
  pullRequest(number: $n) { id state headRefOid mergeable mergeStateStatus reviewDecision } } }"""


def gql_pull(live: LiveSandbox, number: int) -> dict[str, Any]:
    pull: dict[str, Any] = gql(live, PULL_STATE, n=number)["data"]["repository"]["pullRequest"]
    return pull


def merge_status(live: LiveSandbox, number: int) -> tuple[str, str]:
    """(mergeable, mergeStateStatus) once GitHub has computed them: the second of two reads."""
    gql_pull(live, number)
    pull = gql_pull(live, number)
    return pull["mergeable"], pull["mergeStateStatus"]


def merge(live: LiveSandbox, number: int, **body: object) -> requests.Response:
    return api(live, "PUT", f"{REPO_PATH}/pulls/{number}/merge", body)


def refused(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["message"]


def protect(live: LiveSandbox, **rule: object) -> dict[str, Any]:
    answer: dict[str, Any] = control(live, "POST", f"/repos/{GITOPS}/protection", rule)
    return answer


def check(live: LiveSandbox, sha: str, conclusion: str, context: str = "ci") -> None:
    body = {"repo": GITOPS, "sha": sha, "conclusion": conclusion, "context": context}
    control(live, "POST", "/checks", body)


def review(
    live: LiveSandbox, number: int, user: str, event: str | None, body: str | None = None
) -> requests.Response:
    payload = {"repo": GITOPS, "pull": number, "user": user, "event": event, "body": body}
    return live.control("POST", "/reviews", payload)


def settings(live: LiveSandbox, **values: bool) -> None:
    control(live, "POST", f"/repos/{GITOPS}/settings", values)


MERGE = """mutation($pr: ID!, $method: PullRequestMergeMethod, $head: GitObjectID) {
  mergePullRequest(input: {pullRequestId: $pr, mergeMethod: $method, expectedHeadOid: $head}) {
    pullRequest { merged } } }"""
AUTO_MERGE = """mutation($pr: ID!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pr, mergeMethod: SQUASH}) {
    pullRequest { autoMergeRequest { mergeMethod } } } }"""


def error(answer: dict[str, Any]) -> tuple[str, str]:
    first = answer["errors"][0]
    return first["type"], first["message"]


# -- mergeability is computed in the background -----------------------------------------------


def test_mergeability_is_unknown_until_github_has_computed_it(live_sandbox: LiveSandbox) -> None:
    """GitHub computes mergeability in a background job, after a pull request opens or its base
    moves; until it is done REST answers ``mergeable: null`` and GraphQL ``UNKNOWN``.

    Evidence: REST "Get a pull request" (OpenAPI ``pulls/get``): "If the value is `null`, then
    GitHub has started a background job to compute the mergeability. After giving the job time
    to complete, resubmit the request." GraphQL schema, ``MergeableState.UNKNOWN``: "The
    mergeability of the pull request is still being calculated." Observed: the first call
    answers unknown, "on the second api call ... I get a real state"
    (https://github.com/ansible/ansibullbot/pull/50). Default here: one read answers unknown.
    """
    live = live_sandbox
    created = open_pull(live, "promote")
    assert (created["mergeable"], created["mergeable_state"]) == (None, "unknown")
    number = created["number"]
    assert rest_state(live, number) == (True, "clean")
    assert rest_state(live, number) == (True, "clean")

    push(live, "main", {"elsewhere.txt": "moved\n"})
    # One GraphQL document is one read, whatever it asks for and however often.
    both = gql(
        live,
        """query($n: Int!) { repository(owner: "omerbh7", name: "scoutflow-gitops") {
             a: pullRequest(number: $n) { mergeable }
             b: pullRequest(number: $n) { mergeable mergeStateStatus } } }""",
        n=number,
    )["data"]["repository"]
    assert both == {
        "a": {"mergeable": "UNKNOWN"},
        "b": {"mergeable": "UNKNOWN", "mergeStateStatus": "UNKNOWN"},
    }
    known = gql_pull(live, number)
    assert (known["mergeable"], known["mergeStateStatus"]) == ("MERGEABLE", "CLEAN")


def test_timing_knobs_count_reads_and_seconds_of_the_simulated_clock(
    live_sandbox: LiveSandbox,
) -> None:
    """How long GitHub's jobs take is a knob: reads of the pull request and/or seconds of the
    simulated clock (never the wall clock); a job is done when both have passed. No GitHub
    evidence is needed for the knob itself: it only sets how late the documented answers come.
    """
    live = live_sandbox
    assert control(live, "GET", "/timing") == {
        "mergeability_reads": 1,
        "mergeability_seconds": 0.0,
        "head_reads": 1,
        "head_seconds": 0.0,
    }
    changed = control(
        live, "POST", "/timing", {"mergeability_reads": 2, "mergeability_seconds": 90}
    )
    assert (changed["mergeability_reads"], changed["mergeability_seconds"]) == (2, 90.0)
    number = open_pull(live, "slow")["number"]  # read 1
    assert rest_state(live, number) == (None, "unknown")  # read 2
    assert rest_state(live, number) == (None, "unknown")  # reads done, 90 s not yet
    control(live, "POST", "/clock", {"advance_minutes": 1.5})
    assert rest_state(live, number) == (True, "clean")

    bad = live.control("POST", "/timing", {"head_reads": -1})
    assert (bad.status_code, bad.json()["message"]) == (
        422,
        "head_reads must be a whole number, 0 or more",
    )
    assert live.control("POST", "/timing", {"nap_seconds": 1}).status_code == 422


def test_a_unit_test_relaxes_the_timing_explicitly() -> None:
    """``Sandbox(timing=Timing.immediate())`` is the one way to get answers without GitHub's
    delays, and it is visible in the test that uses it (the default keeps them)."""
    strict, relaxed = Sandbox(), Sandbox(timing=Timing.immediate())
    for sandbox in (strict, relaxed):
        seed_scoutflow(sandbox, PROJECT_ROOT)
        repo = sandbox.repo(GITOPS)
        sandbox.create_ref(repo, "refs/heads/x", sandbox.branch_head(repo, "main"))
        sandbox.commit_files(repo, "x", {"x.txt": b"x\n"}, "x")
    strict_repo, relaxed_repo = strict.repo(GITOPS), relaxed.repo(GITOPS)
    first = strict.create_pull(strict_repo, strict.bot, head="x", base="main", title="x")
    second = relaxed.create_pull(relaxed_repo, relaxed.bot, head="x", base="main", title="x")
    assert strict.observe_pull(strict_repo, first).mergeability.state == "unknown"
    assert relaxed.observe_pull(relaxed_repo, second).mergeability.state == "clean"
    moved = relaxed.commit_files(relaxed_repo, "x", {"x.txt": b"y\n"}, "y")
    assert relaxed.observe_pull(relaxed_repo, second).head_sha == moved


# -- merge states ------------------------------------------------------------------------------


def test_merge_state_status_has_githubs_states(live_sandbox: LiveSandbox) -> None:
    """The states of GraphQL ``MergeStateStatus`` (REST ``mergeable_state`` in lower case):
    CLEAN "Mergeable and passing commit status", BLOCKED "The merge is blocked", UNSTABLE
    "Mergeable with non-passing commit status", DIRTY "The merge commit cannot be cleanly
    created", BEHIND "The head ref is out of date", HAS_HOOKS "Mergeable with passing commit
    status and pre-receive hooks", DRAFT "blocked due to the pull request being a draft" (GitHub's
    GraphQL schema). UNSTABLE concerns checks that are not required: "Failing/pending commit
    status that is not part of the required status checks" (quoted from octokit in
    https://github.com/paketo-buildpacks/base-builder/pull/74). BEHIND needs "Require branches to
    be up to date before merging" (OpenAPI, ``required_status_checks.strict``).
    """
    live = live_sandbox
    clean = open_pull(live, "clean")
    number, head = clean["number"], clean["head"]["sha"]
    assert merge_status(live, number) == ("MERGEABLE", "CLEAN")
    draft = open_pull(live, "drafted", draft=True)["number"]
    assert merge_status(live, draft) == ("MERGEABLE", "DRAFT")

    check(live, head, "failure", context="lint")  # not required
    assert merge_status(live, number) == ("MERGEABLE", "UNSTABLE")
    check(live, head, "pending", context="lint")
    assert merge_status(live, number) == ("MERGEABLE", "UNSTABLE")
    check(live, head, "success", context="lint")
    settings(live, pre_receive_hooks=True)
    assert merge_status(live, number) == ("MERGEABLE", "HAS_HOOKS")
    settings(live, pre_receive_hooks=False)

    protect(live, required_status_checks={"strict": False, "contexts": ["ci"]})
    assert merge_status(live, number) == ("MERGEABLE", "BLOCKED")
    check(live, head, "success")
    assert merge_status(live, number) == ("MERGEABLE", "CLEAN")

    conflict = open_pull(live, "conflict", {"shared.txt": "branch\n"})["number"]
    push(live, "main", {"shared.txt": "main\n"})
    assert merge_status(live, conflict) == ("CONFLICTING", "DIRTY")
    # main moved: only "require branches to be up to date" makes that BEHIND.
    assert merge_status(live, number) == ("MERGEABLE", "CLEAN")
    protect(live, required_status_checks={"strict": True, "contexts": ["ci"]})
    assert merge_status(live, number) == ("MERGEABLE", "BEHIND")
    assert rest_state(live, number) == (True, "behind")
    refusal = merge(live, number, merge_method="squash")
    assert refused(refusal) == (405, "Head branch is out of date. Review and try the merge again.")


# -- auto-merge --------------------------------------------------------------------------------


def test_auto_merge_is_refused_with_the_state_that_makes_it_pointless(
    live_sandbox: LiveSandbox,
) -> None:
    """``enablePullRequestAutoMerge`` answers UNPROCESSABLE errors "Pull request Pull request is in
    clean status" and "... is in unstable status" (observed:
    https://github.com/peter-evans/enable-pull-request-automerge/issues/355,
    https://github.com/cloudfoundry/loggregator-tools/pull/681, "GitHub refuses
    enablePullRequestAutoMerge while a pull request sits in clean or unstable state"
    https://github.com/Linuxfabrik/kickstart/pull/48); "unstable" is also GitHub's answer while
    mergeability is still being computed (https://github.com/fastify/github-action-merge-dependabot/issues/561).
    "... is in dirty status" and "... is in has_hooks status" appear in public code that handles
    GitHub's answers (no issue thread found); "Pull request Pull request is in draft state" is
    inferred from that pattern (GitHub disables auto-merge on drafts:
    https://github.com/reitermarkus/automerge/issues/1525). "Pull request Auto merge is not allowed
    for this repository" when the setting is off. BLOCKED and BEHIND accept it: there is
    something to wait for.
    """
    live = live_sandbox
    fresh = quiet_pull(live, "fresh")
    assert error(gql(live, AUTO_MERGE, pr=fresh)) == (
        "UNPROCESSABLE",
        "Pull request Pull request is in unstable status",
    )
    assert error(gql(live, AUTO_MERGE, pr=fresh)) == (
        "UNPROCESSABLE",
        "Pull request Pull request is in clean status",
    )
    created = open_pull(live, "flaky")
    check(live, created["head"]["sha"], "failure", context="lint")
    flaky = gql_pull(live, created["number"])["id"]
    assert error(gql(live, AUTO_MERGE, pr=flaky))[1] == (
        "Pull request Pull request is in unstable status"
    )
    conflict = open_pull(live, "clash", {"shared.txt": "branch\n"})["number"]
    push(live, "main", {"shared.txt": "main\n"})
    clash = gql_pull(live, conflict)["id"]
    assert (
        error(gql(live, AUTO_MERGE, pr=clash))[1] == "Pull request Pull request is in dirty status"
    )
    settings(live, pre_receive_hooks=True)
    hooked = quiet_pull(live, "hooked")
    assert read_node(live, hooked) == "UNKNOWN"
    assert error(gql(live, AUTO_MERGE, pr=hooked))[1] == (
        "Pull request Pull request is in has_hooks status"
    )
    settings(live, pre_receive_hooks=False)
    draft = open_pull(live, "sketch", draft=True)["number"]
    sketch = gql_pull(live, draft)["id"]
    assert (
        error(gql(live, AUTO_MERGE, pr=sketch))[1] == "Pull request Pull request is in draft state"
    )

    protect(live, required_status_checks={"strict": True, "contexts": ["ci"]})
    waiting = quiet_pull(live, "waiting")
    assert read_node(live, waiting) == "UNKNOWN"
    enabled = gql(live, AUTO_MERGE, pr=waiting)
    assert "errors" not in enabled
    auto = enabled["data"]["enablePullRequestAutoMerge"]["pullRequest"]["autoMergeRequest"]
    assert auto == {"mergeMethod": "SQUASH"}
    settings(live, allow_auto_merge=False)
    assert error(gql(live, AUTO_MERGE, pr=waiting))[1] == (
        "Pull request Auto merge is not allowed for this repository"
    )


def test_auto_merge_merges_once_checks_and_reviews_are_met(live_sandbox: LiveSandbox) -> None:
    """ "If you enable auto-merge for a pull request, the pull request will merge automatically
    when all required reviews are met and all required status checks have passed."
    (docs.github.com, "Automatically merging a pull request",
    https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/incorporating-changes-from-a-pull-request/automatically-merging-a-pull-request)
    """
    live = live_sandbox
    protect(
        live,
        required_status_checks={"strict": False, "contexts": ["ci"]},
        required_pull_request_reviews={"required_approving_review_count": 1},
    )
    created = open_pull(live, "gated")
    number, head = created["number"], created["head"]["sha"]
    pull = gql_pull(live, number)
    assert (pull["mergeStateStatus"], pull["reviewDecision"]) == ("BLOCKED", "REVIEW_REQUIRED")
    assert "errors" not in gql(live, AUTO_MERGE, pr=pull["id"])
    check(live, head, "success")
    assert gql_pull(live, number)["state"] == "OPEN"  # the approval is still missing
    assert review(live, number, "dev-writer", "APPROVE").status_code == 201
    merged = gql_pull(live, number)
    assert merged["state"] == "MERGED"
    main = api(live, "GET", f"{REPO_PATH}/branches/main").json()
    assert main["commit"]["commit"]["message"].startswith("Change gated (#1)")


# -- merge refusals ----------------------------------------------------------------------------


def test_merges_are_refused_with_githubs_texts(live_sandbox: LiveSandbox) -> None:
    """REST answers 405 "Squash merges are not allowed on this repository." (and "Merge commits
    are not allowed ..." / "Rebase merges are not allowed ...") and GraphQL the same message
    (Mergify's engine matches these texts: ``mergify_engine/actions/merge_base.py`` in
    https://github.com/Mergifyio/mergify; gh prints "GraphQL: Merge commits are not allowed on
    this repository"); 409 "Head branch was modified. Review and try the merge again." when
    ``sha`` is not the head (OpenAPI ``pulls/merge``: "Conflict if sha was provided and pull
    request head did not match"); 405 "Base branch was modified. Review and try the merge
    again." when the base moved under the merge
    (https://github.com/KnpLabs/php-github-api/issues/497; 405 in public clients that retry it);
    405 "Pull Request is not mergeable" right after opening and on a conflict
    (https://github.com/octokit/octokit.net/issues/688); 405 "Pull Request is still a draft"
    (https://github.com/alexwlchan/auto_merge_my_pull_requests/issues/1,
    https://github.com/Mergifyio/mergify/issues/456).
    """
    live = live_sandbox
    fresh = quiet_pull(live, "fresh")
    assert refused(merge(live, 1, merge_method="squash")) == (405, "Pull Request is not mergeable")
    assert refused(merge(live, 1, merge_method="rebase")) == (
        405,
        "Rebase merges are not allowed on this repository.",
    )
    settings(live, allow_squash_merge=False, allow_merge_commit=False)
    assert refused(merge(live, 1, merge_method="squash")) == (
        405,
        "Squash merges are not allowed on this repository.",
    )
    assert refused(merge(live, 1)) == (405, "Merge commits are not allowed on this repository.")
    assert error(gql(live, MERGE, pr=fresh, method="SQUASH")) == (
        "UNPROCESSABLE",
        "Squash merges are not allowed on this repository.",
    )
    settings(live, allow_squash_merge=True)
    assert refused(merge(live, 1, merge_method="squash", sha="0" * 40)) == (
        409,
        "Head branch was modified. Review and try the merge again.",
    )
    assert control(live, "POST", "/merge-races", {"base_modified": 2}) == {"base_modified": 2}
    assert refused(merge(live, 1, merge_method="squash")) == (
        405,
        "Base branch was modified. Review and try the merge again.",
    )
    assert error(gql(live, MERGE, pr=fresh, method="SQUASH"))[1] == (
        "Base branch was modified. Review and try the merge again."
    )
    assert merge(live, 1, merge_method="squash").json()["merged"] is True

    conflict = open_pull(live, "clash", {"shared.txt": "branch\n"})["number"]
    push(live, "main", {"shared.txt": "main\n"})
    rest_state(live, conflict)
    assert refused(merge(live, conflict, merge_method="squash")) == (
        405,
        "Pull Request is not mergeable",
    )
    draft = open_pull(live, "sketch", draft=True)["number"]
    assert refused(merge(live, draft, merge_method="squash")) == (
        405,
        "Pull Request is still a draft",
    )


def test_blocked_merges_name_the_requirement_that_is_not_met(live_sandbox: LiveSandbox) -> None:
    """Required checks: 'Required status check "ci" is expected.' while it has not reported
    (Mergify matches ``Required status check "([^"]*)" is expected.``), '... is failing.' once
    it failed (docs.github.com "Troubleshooting required status checks" shows
    ``Required status check "ci-build" is failing``), "2 of 2 required status checks are
    expected." for several (GitHub's rule text for more than one, seen in push refusals; for the
    merge API inferred). Reviews: "At least 1 approving review is required by reviewers with
    write access." / "At least 2 approving reviews are required ..."
    (https://github.com/Skatteetaten/terraform-nomad-minio/issues/53,
    https://github.com/open-feature/ofep/issues/28); only reviewers with write access count
    (docs.github.com "About required reviews for pull requests": "you won't be able to merge
    your pull request until someone with write or admin permissions in the repository approves
    your pull request's changes"). "Changes requested by a reviewer with write access." is
    inferred (seen only in tools that classify GitHub's answers). Which of several unmet
    requirements GitHub names first is not documented: reviews first here.
    """
    live = live_sandbox
    protect(live, required_status_checks={"strict": False, "contexts": ["ci", "lint"]})
    created = open_pull(live, "gated")
    number, head = created["number"], created["head"]["sha"]
    rest_state(live, number)
    assert refused(merge(live, number, merge_method="squash")) == (
        405,
        "2 of 2 required status checks are expected.",
    )
    check(live, head, "success")
    assert refused(merge(live, number, merge_method="squash"))[1] == (
        'Required status check "lint" is expected.'
    )
    check(live, head, "timed_out", context="lint")
    assert refused(merge(live, number, merge_method="squash"))[1] == (
        'Required status check "lint" is failing.'
    )
    check(live, head, "skipped", context="lint")  # skipped and neutral count as passed

    protect(
        live,
        required_status_checks={"strict": False, "contexts": ["ci", "lint"]},
        required_pull_request_reviews={"required_approving_review_count": 1},
    )
    one = "At least 1 approving review is required by reviewers with write access."
    assert refused(merge(live, number, merge_method="squash")) == (405, one)
    assert review(live, number, "qa-reader", "APPROVE").status_code == 201  # read access only
    assert refused(merge(live, number, merge_method="squash"))[1] == one
    assert review(live, number, "dev-writer", "REQUEST_CHANGES", "Not yet").status_code == 201
    assert gql_pull(live, number)["reviewDecision"] == "CHANGES_REQUESTED"
    assert refused(merge(live, number, merge_method="squash"))[1] == (
        "Changes requested by a reviewer with write access."
    )
    assert review(live, number, "dev-writer", "APPROVE").status_code == 201
    assert review(live, number, "dev-writer", "COMMENT", "Thanks").status_code == 201
    assert gql_pull(live, number)["reviewDecision"] == "APPROVED"
    protect(
        live,
        required_status_checks={"strict": False, "contexts": ["ci", "lint"]},
        required_pull_request_reviews={"required_approving_review_count": 2},
    )
    assert refused(merge(live, number, merge_method="squash"))[1] == (
        "At least 2 approving reviews are required by reviewers with write access."
    )
    assert review(live, number, "release-manager", "APPROVE").status_code == 201
    assert merge(live, number, merge_method="squash").json()["merged"] is True


# -- code owners, reviews ----------------------------------------------------------------------


def test_codeowners_patterns_follow_githubs_rules() -> None:
    """CODEOWNERS patterns follow gitignore rules except ``!`` and ``[ ]``; the last matching
    pattern wins; a pattern without owners leaves its files unowned; ``docs/*`` owns the files
    directly in docs/, not deeper; ``apps/`` matches an apps folder anywhere, ``/apps/`` only
    at the root (docs.github.com "About code owners", CODEOWNERS syntax,
    https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners).
    """
    rules = parse_codeowners(
        "# owners\n"
        "*            @lead  # everyone's fallback\n"
        "*.py         @python-dev\n"
        "docs/*       @writer\n"
        "build/       @builder\n"
        "/infra/      @ops @org/sre\n"
        "**/secrets   @security\n"
        "/infra/free\n"
        "\\#notes      @lead\n"
    )
    assert owners_of(rules, "README.md") == ("lead",)
    assert owners_of(rules, "src/tool/main.py") == ("python-dev",)
    assert owners_of(rules, "docs/guide.md") == ("writer",)
    assert owners_of(rules, "docs/deep/guide.md") == ("lead",)
    assert owners_of(rules, "src/build/out.txt") == ("builder",)
    assert owners_of(rules, "infra/main.tf") == ("ops", "org/sre")
    assert owners_of(rules, "src/infra/main.tf") == ("lead",)
    assert owners_of(rules, "config/secrets/key.txt") == ("security",)
    assert owners_of(rules, "infra/free/readme.txt") == ()
    assert owners_of(rules, "#notes") == ("lead",)


def test_code_owners_must_approve_the_files_they_own(live_sandbox: LiveSandbox) -> None:
    """With "Require review from Code Owners", each changed file's owners (any one of them)
    must approve; GitHub reads CODEOWNERS from the base branch, and code owners must have write
    access (docs.github.com "About code owners"). The merge is refused with "Waiting on code
    owner review from A, B, and/or C." (https://github.com/bors-ng/bors-ng/issues/1521,
    https://github.com/squalrus/merge-bot/issues/37,
    https://github.com/DataDog/terraform-provider-datadog/pull/3646). Teams are not modelled (the
    sandbox's accounts are users, its repositories a user's), so team owners count as the
    invalid owners GitHub ignores. The seeded CODEOWNERS gives ``*`` to omerbh7 and prod to
    omerbh7 or release-manager.
    """
    live = live_sandbox
    protect(
        live,
        required_pull_request_reviews={
            "required_approving_review_count": 0,
            "require_code_owner_reviews": True,
        },
    )
    prod = open_pull(live, "prod", {PROD_VALUES: "replicas: 3\n"})["number"]
    both = "Waiting on code owner review from omerbh7 and/or release-manager."
    rest_state(live, prod)
    assert refused(merge(live, prod, merge_method="squash")) == (405, both)
    assert gql_pull(live, prod)["reviewDecision"] == "REVIEW_REQUIRED"
    assert review(live, prod, "dev-writer", "APPROVE").status_code == 201  # not an owner
    assert refused(merge(live, prod, merge_method="squash"))[1] == both

    # The pull request cannot rewrite the rules that judge it: the base's CODEOWNERS counts.
    files = {
        PROD_VALUES: "replicas: 4\n",
        "README.md": "x\n",
        ".github/CODEOWNERS": "* @dev-writer\n",
    }
    wide = open_pull(live, "wide", files)["number"]
    review(live, wide, "dev-writer", "APPROVE")
    review(live, wide, "release-manager", "APPROVE")
    rest_state(live, wide)
    assert refused(merge(live, wide, merge_method="squash"))[1] == (
        "Waiting on code owner review from omerbh7."
    )

    review(live, prod, "release-manager", "APPROVE")
    assert gql_pull(live, prod)["reviewDecision"] == "APPROVED"
    assert merge(live, prod, merge_method="squash").json()["merged"] is True

    # A team owner cannot be resolved to anyone: the file is unowned.
    push(live, "main", {".github/CODEOWNERS": "* @omerbh7\n/docs/ @omerbh7/platform\n"})
    docs = open_pull(live, "docs", {"docs/notes.md": "notes\n"})["number"]
    rest_state(live, docs)
    assert merge(live, docs, merge_method="squash").json()["merged"] is True


def test_the_author_cannot_approve_their_own_pull_request(live_sandbox: LiveSandbox) -> None:
    """REST answers 422 ``{"message": "Unprocessable Entity", "errors": ["Can not approve your
    own pull request"]}`` (https://github.com/hubtty/hubtty/issues/33,
    https://github.com/juliangruber/approve-pull-request-action/issues/61); requesting changes is
    refused the same way ("Can not request changes on your own pull request"); GraphQL's message
    starts with the record, "Review Can not approve your own pull request" (gh shows "GraphQL:
    Review Can not approve your own pull request (addPullRequestReview)"); the author may still
    comment (https://github.com/github/gh-aw/pull/15838,
    https://github.com/distributed-system-analysis/pbench/pull/2630).
    """
    live = live_sandbox
    created = open_pull(live, "mine")  # opened by the bot, which also reviews here
    number = created["number"]
    own = api(live, "POST", f"{REPO_PATH}/pulls/{number}/reviews", {"event": "APPROVE"})
    assert own.status_code == 422
    assert (own.json()["message"], own.json()["errors"]) == (
        "Unprocessable Entity",
        ["Can not approve your own pull request"],
    )
    pr = gql_pull(live, number)["id"]
    document = """mutation($pr: ID!, $event: PullRequestReviewEvent) {
      addPullRequestReview(input: {pullRequestId: $pr, event: $event, body: "Looked"}) {
        pullRequestReview { state author { login } } } }"""
    assert error(gql(live, document, pr=pr, event="APPROVE")) == (
        "UNPROCESSABLE",
        "Review Can not approve your own pull request",
    )
    assert error(gql(live, document, pr=pr, event="REQUEST_CHANGES"))[1] == (
        "Review Can not request changes on your own pull request"
    )
    commented = gql(live, document, pr=pr, event="COMMENT")["data"]["addPullRequestReview"]
    # GraphQL spells the App's bot without "[bot]" (docs/sandbox-rules.md, row 29).
    assert commented["pullRequestReview"] == {
        "state": "COMMENTED",
        "author": {"login": "scoutflow-gitops"},
    }
    assert review(live, number, "omerbh7", "APPROVE").status_code == 201  # someone else may


def test_reviews_read_and_written_through_rest_graphql_and_the_control_api(
    live_sandbox: LiveSandbox,
) -> None:
    """``GET``/``POST /repos/{o}/{r}/pulls/{n}/reviews`` (OpenAPI ``pulls/list-reviews``,
    ``pulls/create-review``: a review without ``event`` is PENDING and has no ``submitted_at``;
    "User can only have one pending review per pull request" is GitHub's text for a second
    one), GraphQL ``PullRequest.reviews`` and
    ``reviewDecision``, which is null where the base branch requires no review
    (https://github.com/abcxyz/github-metrics-aggregator/pull/224 citing
    https://github.com/orgs/community/discussions/24375; observed in
    https://github.com/mcnewcp/my-team/issues/27).
    """
    live = live_sandbox
    number = open_pull(live, "reviewed")["number"]
    assert gql_pull(live, number)["reviewDecision"] is None
    written = review(live, number, "release-manager", "APPROVE", "Ship it").json()
    assert (written["state"], written["user"]["login"], written["body"]) == (
        "APPROVED",
        "release-manager",
        "Ship it",
    )
    person = live_sandbox.as_user("dev-writer").get_repo(GITOPS).get_pull(number)
    person.create_review(body="Looks fine", event="COMMENT")
    pending = api(live, "POST", f"{REPO_PATH}/pulls/{number}/reviews", {"body": "draft"})
    assert pending.status_code == 200
    assert pending.json()["state"] == "PENDING" and "submitted_at" not in pending.json()
    again = api(live, "POST", f"{REPO_PATH}/pulls/{number}/reviews", {"body": "draft 2"})
    assert again.json()["errors"] == ["User can only have one pending review per pull request"]

    listed = api(live, "GET", f"{REPO_PATH}/pulls/{number}/reviews").json()
    assert [(r["user"]["login"], r["state"]) for r in listed] == [
        ("release-manager", "APPROVED"),
        ("dev-writer", "COMMENTED"),
        ("scoutflow-gitops[bot]", "PENDING"),
    ]
    assert listed[0]["html_url"].endswith(f"/pull/{number}#pullrequestreview-{listed[0]['id']}")
    answer = gql(
        live,
        """query($n: Int!) { repository(owner: "omerbh7", name: "scoutflow-gitops") {
             pullRequest(number: $n) { reviewDecision
               approved: reviews(first: 10, states: [APPROVED]) { totalCount nodes {
                 id databaseId body state submittedAt url author { login }
                 commit { oid } pullRequest { number } } }
               byDev: reviews(first: 10, author: "dev-writer") { nodes { state } } } } }""",
        n=number,
    )["data"]["repository"]["pullRequest"]
    node = answer["approved"]["nodes"][0]
    assert (answer["approved"]["totalCount"], node["state"], node["body"]) == (
        1,
        "APPROVED",
        "Ship it",
    )
    assert node["author"] == {"login": "release-manager"} and node["pullRequest"] == {
        "number": number
    }
    assert node["commit"]["oid"] == listed[0]["commit_id"]
    assert node["submittedAt"].startswith("2025-01-06T")
    assert answer["byDev"]["nodes"] == [{"state": "COMMENTED"}]
    assert answer["reviewDecision"] is None
    by_id = gql(
        live,
        "query($id: ID!) { node(id: $id) { ... on PullRequestReview { body } } }",
        id=node["id"],
    )
    assert by_id["data"]["node"] == {"body": "Ship it"}
    stranger = review(live, number, "outsider", "APPROVE")
    assert stranger.status_code == 404  # a private repository they cannot see


def test_stale_approvals_are_dismissed_when_new_commits_arrive(live_sandbox: LiveSandbox) -> None:
    """ "Dismiss stale pull request approvals when new commits are pushed ... dismisses a pull
    request approval review when a code-modifying commit is pushed to the branch"
    (docs.github.com, "Enabling required reviews for pull requests"; OpenAPI
    ``dismiss_stale_reviews``: "automatically dismiss approving reviews when someone pushes a new
    commit"). Without the setting an approval stays.
    """
    live = live_sandbox
    reviews = {"required_approving_review_count": 1, "dismiss_stale_reviews": True}
    protect(live, required_pull_request_reviews=reviews)
    number = open_pull(live, "stale")["number"]
    review(live, number, "dev-writer", "APPROVE")
    assert gql_pull(live, number)["reviewDecision"] == "APPROVED"
    push(live, "stale", {"stale.txt": "second\n"})
    gql_pull(live, number)  # the pull request catches up with the push on the next read
    assert gql_pull(live, number)["reviewDecision"] == "REVIEW_REQUIRED"
    listed = api(live, "GET", f"{REPO_PATH}/pulls/{number}/reviews").json()
    assert [r["state"] for r in listed] == ["DISMISSED"]

    protect(live, required_pull_request_reviews={"required_approving_review_count": 1})
    review(live, number, "dev-writer", "APPROVE")
    push(live, "stale", {"stale.txt": "third\n"})
    gql_pull(live, number)
    assert gql_pull(live, number)["reviewDecision"] == "APPROVED"


# -- asynchrony: heads follow late, empty branches close --------------------------------------


def test_a_pull_requests_head_follows_its_branch_late(live_sandbox: LiveSandbox) -> None:
    """After a push, GitHub's pull request record still shows the old head for a moment
    (https://github.com/annervisser/pr-cli/pull/190, https://github.com/tanium/octobot/pull/75).
    A merge guarded by the new head
    before the record caught up is refused "Head branch was modified. Review and try the merge
    again." (GitHub compares with the head it recorded); one guarded by the recorded head while
    the branch has moved is refused 409 "Head branch is out of date. Review and try the merge
    again." (https://github.com/strands-labs/robots/issues/2538).
    """
    live = live_sandbox
    created = open_pull(live, "moving")
    number, old = created["number"], created["head"]["sha"]
    rest_state(live, number)
    new = push(live, "moving", {"moving.txt": "second\n"})
    assert refused(merge(live, number, merge_method="squash", sha=new)) == (
        409,
        "Head branch was modified. Review and try the merge again.",
    )
    pull = api(live, "GET", f"{REPO_PATH}/pulls/{number}").json()
    assert pull["head"]["sha"] == new  # the second read
    newer = push(live, "moving", {"moving.txt": "third\n"})
    # Guarded by the head GitHub shows, while the branch has already moved on.
    assert refused(merge(live, number, merge_method="squash", sha=new)) == (
        409,
        "Head branch is out of date. Review and try the merge again.",
    )
    assert gql_pull(live, number)["headRefOid"] == newer
    assert old != new != newer
    control(live, "POST", "/timing", {"head_reads": 0, "head_seconds": 30})
    latest = push(live, "moving", {"moving.txt": "fourth\n"})
    assert gql_pull(live, number)["headRefOid"] == newer
    control(live, "POST", "/clock", {"advance_minutes": 0.5})
    assert gql_pull(live, number)["headRefOid"] == latest


def test_a_branch_with_nothing_to_merge_closes_its_pull_request_for_good(
    live_sandbox: LiveSandbox,
) -> None:
    """GitHub closes a pull request whose head branch is moved so that it has no commits ahead
    of its base ("It got closed because the branch got force pushed with no new commits. Github
    closes PRs like that automatically", https://github.com/genuinetools/binctr/pull/2;
    https://github.com/urbit/vere/pull/723, https://github.com/wei/pull/issues/365), also in
    the middle of one GraphQL document. Reopening is refused 422 with ``state cannot be
    changed. <reason>`` (format: "state cannot be changed. The commsplit branch has been
    deleted.", https://github.com/pytorch/pytorch/pull/114423; "... The <branch> branch was
    force-pushed or recreated.", https://github.com/cilium/cilium/pull/47088): GitHub reopens
    only if the branch still descends from the head the pull request was closed at ("We're
    blocking the pull request reopen if the current head isn't a descendant of the stored head
    sha", GitHub support quoted in https://github.com/isaacs/github/issues/361) and has commits
    to merge ("state cannot be changed. There are no new commits between ...", observed in
    public code; the rest of the text is inferred from GitHub's retarget refusal "There are no
    new commits between base branch 'staging' and head branch 'feat/x'").
    """
    live = live_sandbox
    number = open_pull(live, "empty")["number"]
    main = api(live, "GET", f"{REPO_PATH}/git/ref/heads/main").json()["object"]["sha"]
    moved = api(live, "PATCH", f"{REPO_PATH}/git/refs/heads/empty", {"sha": main, "force": True})
    assert moved.status_code == 200
    closed = api(live, "GET", f"{REPO_PATH}/pulls/{number}").json()
    assert (closed["state"], closed["merged"], closed["head"]["sha"]) == ("closed", False, main)
    reopen = api(live, "PATCH", f"{REPO_PATH}/pulls/{number}", {"state": "open"})
    assert reopen.status_code == 422
    assert reopen.json()["errors"] == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "field": "state",
            "message": "state cannot be changed. There are no new commits between base branch "
            "'main' and head branch 'empty'.",
        }
    ]

    # The bot's one-document update: reset the branch to main, then commit. The reset alone
    # closes the pull request.
    second = open_pull(live, "rolling")["number"]
    pull = gql_pull(live, second)
    ids = gql(
        live,
        """{ repository(owner: "omerbh7", name: "scoutflow-gitops") { id
             ref(qualifiedName: "refs/heads/rolling") { target { oid } } } }""",
    )["data"]["repository"]
    answer = gql(
        live,
        """mutation($repo: ID!, $before: GitObjectID!, $main: GitObjectID!) {
          reset: updateRefs(input: {repositoryId: $repo, refUpdates: [{name: "refs/heads/rolling",
            beforeOid: $before, afterOid: $main, force: true}]}) { clientMutationId }
          commit: createCommitOnBranch(input: {branch: {repositoryNameWithOwner:
              "omerbh7/scoutflow-gitops", branchName: "rolling"}, expectedHeadOid: $main,
            message: {headline: "Again"}, fileChanges: {additions: [{path: "rolling.txt",
              contents: "YWdhaW4K"}]}}) { commit { oid } } }""",
        repo=ids["id"],
        before=ids["ref"]["target"]["oid"],
        main=main,
    )
    assert "errors" not in answer
    assert gql_pull(live, second)["state"] == "CLOSED"
    # The new commit continues the head it was closed at: this reopen is allowed.
    reopened = api(live, "PATCH", f"{REPO_PATH}/pulls/{second}", {"state": "open"})
    assert reopened.status_code == 200
    assert reopened.json()["head"]["sha"] == answer["data"]["commit"]["commit"]["oid"]
    assert pull["state"] == "OPEN"

    # A branch force-pushed to another line while closed cannot be reopened.
    third = open_pull(live, "forced")["number"]
    api(live, "PATCH", f"{REPO_PATH}/pulls/{third}", {"state": "closed"})
    api(live, "PATCH", f"{REPO_PATH}/git/refs/heads/forced", {"sha": main, "force": True})
    push(live, "forced", {"other.txt": "other\n"})
    forced = api(live, "PATCH", f"{REPO_PATH}/pulls/{third}", {"state": "open"})
    assert forced.json()["errors"][0]["message"] == (
        "state cannot be changed. The forced branch was force-pushed or recreated."
    )
    api(live, "DELETE", f"{REPO_PATH}/git/refs/heads/forced")
    gone = api(live, "PATCH", f"{REPO_PATH}/pulls/{third}", {"state": "open"})
    assert gone.json()["errors"][0]["message"] == (
        "state cannot be changed. The forced branch has been deleted."
    )


# -- branch protection settings ----------------------------------------------------------------


def test_required_checks_generalise_the_ci_check(live_sandbox: LiveSandbox) -> None:
    """Branch protection in the shape of GitHub's ``PUT .../branches/{branch}/protection``
    (``required_status_checks`` with ``strict`` and ``contexts``, ``required_pull_request_reviews``
    with ``required_approving_review_count``, ``require_code_owner_reviews``,
    ``dismiss_stale_reviews``; OpenAPI and the recorded exchange
    ``recorded/octokit-fixtures/scenarios/api.github.com/branch-protection``); the legacy
    ``require_checks`` setting still requires ``ci``. A protected branch reads ``protected:
    true`` with its contexts (OpenAPI ``repos/get-branch``).
    """
    live = live_sandbox
    settings(live, require_checks=True)
    rule = protect(live, required_status_checks={"strict": True, "contexts": ["lint"]})
    assert rule == {
        "required_status_checks": {"strict": True, "contexts": ["lint", "ci"]},
        "required_pull_request_reviews": None,
    }
    main = api(live, "GET", f"{REPO_PATH}/branches/main").json()
    assert main["protected"] is True
    assert main["protection"]["required_status_checks"]["contexts"] == ["lint", "ci"]
    listed = api(live, "GET", f"{REPO_PATH}/branches").json()
    assert [(b["name"], b["protected"]) for b in listed] == [("main", True)]
    # As in the recorded exchange: reviews asked for without a count require one approval.
    reviews = protect(live, required_pull_request_reviews={"dismiss_stale_reviews": True})
    assert reviews["required_pull_request_reviews"] == {
        "required_approving_review_count": 1,
        "require_code_owner_reviews": False,
        "dismiss_stale_reviews": True,
    }
    bad = live.control("POST", f"/repos/{GITOPS}/protection", {"required_signatures": True})
    assert bad.status_code == 422
    too_many = {"required_pull_request_reviews": {"required_approving_review_count": 7}}
    assert live.control("POST", f"/repos/{GITOPS}/protection", too_many).status_code == 422
    assert live.control("DELETE", f"/repos/{GITOPS}/protection").status_code == 204
    settings(live, require_checks=False)
    assert control(live, "GET", f"/repos/{GITOPS}/protection") == {
        "required_status_checks": None,
        "required_pull_request_reviews": None,
    }


@pytest.mark.parametrize(
    ("conclusion", "rollup"),
    [
        ("success", "SUCCESS"),
        ("neutral", "SUCCESS"),
        ("pending", "PENDING"),
        ("failure", "FAILURE"),
    ],
)
def test_status_check_rollup_combines_every_context(
    live_sandbox: LiveSandbox, conclusion: str, rollup: str
) -> None:
    """``StatusCheckRollup.state`` combines all of a commit's checks (GraphQL schema: "The
    combined status for the commit"); neutral and skipped pass like success."""
    live = live_sandbox
    sha = push(live, "main", {"rollup.txt": conclusion})
    check(live, sha, "success")
    check(live, sha, conclusion, context="lint")
    answer = gql(
        live,
        """query($oid: GitObjectID!) { repository(owner: "omerbh7", name: "scoutflow-gitops") {
             object(oid: $oid) { ... on Commit { statusCheckRollup { state } } } } }""",
        oid=sha,
    )
    assert answer["data"]["repository"]["object"]["statusCheckRollup"] == {"state": rollup}


def test_naming_the_head_does_not_make_mergeability_known(live_sandbox: LiveSandbox) -> None:
    """A document that reads only a new pull request's head (as the answer to
    ``createPullRequest`` usually does) leaves GitHub's mergeability job running: enabling
    auto-merge right after it is refused "Pull request Pull request is in unstable status",
    GitHub's usual answer right after a pull request is created
    (peter-evans/enable-pull-request-automerge#355; docs/sandbox-rules.md row 10b)."""
    live = live_sandbox
    branch(live, "named", {"named.txt": "named\n"})
    created = gql(
        live,
        """mutation($repo: ID!) { createPullRequest(input: {repositoryId: $repo,
             baseRefName: "main", headRefName: "named", title: "Named"}) {
             pullRequest { id headRefOid } } }""",
        repo=repo_id(live),
    )
    pull = created["data"]["createPullRequest"]["pullRequest"]
    answer = gql(
        live,
        """mutation($id: ID!, $head: GitObjectID!) { enablePullRequestAutoMerge(input:
             {pullRequestId: $id, expectedHeadOid: $head, mergeMethod: SQUASH}) {
             clientMutationId } }""",
        id=pull["id"],
        head=pull["headRefOid"],
    )
    (error,) = answer["errors"]
    assert (error["type"], error["message"]) == (
        "UNPROCESSABLE",
        "Pull request Pull request is in unstable status",
    )
    status = gql(
        live,
        "query($id: ID!) { node(id: $id) { ... on PullRequest { mergeStateStatus } } }",
        id=pull["id"],
    )
    assert status["data"]["node"]["mergeStateStatus"] == "CLEAN"


def test_a_merge_that_deletes_its_branch_retargets_the_pull_requests_stacked_on_it(
    live_sandbox: LiveSandbox,
) -> None:
    """With "Automatically delete head branches" on, GitHub retargets the open pull requests
    whose base is the merged branch to that pull request's base before it deletes the branch:
    GitHub's docs say so, as quoted in cli/cli#14223, which also shows that a branch deleted
    by hand through the REST API closes them instead (ryanhiebert/probot-chain#6 saw the
    setting delete a branch with a dependent pull request). Inferred from those reports; no
    recorded exchange shows it."""
    live = live_sandbox
    control(live, "POST", f"/repos/{GITOPS}/settings", {"delete_branch_on_merge": True})
    lower = open_pull(live, "lower", {"lower.txt": "lower\n"})
    with live.sandbox.lock:
        repo = live.sandbox.repo(GITOPS)
        live.sandbox.create_ref(repo, "refs/heads/upper", live.sandbox.branch_head(repo, "lower"))
    push(live, "upper", {"upper.txt": "upper\n"})
    stacked = api(
        live, "POST", f"{REPO_PATH}/pulls", {"head": "upper", "base": "lower", "title": "Upper"}
    ).json()
    for _ in range(2):  # GitHub computes mergeability in the background
        rest_state(live, lower["number"])
    merged = api(live, "PUT", f"{REPO_PATH}/pulls/{lower['number']}/merge", {})
    assert merged.status_code == 200, merged.text
    after = api(live, "GET", f"{REPO_PATH}/pulls/{stacked['number']}").json()
    assert (after["state"], after["base"]["ref"]) == ("open", "main")
    with live.sandbox.lock:
        assert live.sandbox.repo(GITOPS).git.ref("refs/heads/lower") is None
