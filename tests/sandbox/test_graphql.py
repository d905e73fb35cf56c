"""GraphQL through PyGithub's ``requester.graphql_query``, executed against GitHub's schema."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from github import GithubException
from graphql import GraphQLInterfaceType, GraphQLObjectType

from scoutflow_gitops.sandbox import graphql_api as gql
from scoutflow_gitops.sandbox import graphql_views as gv
from scoutflow_gitops.sandbox.gitstore import FileEntry
from tests.sandbox.fixtures import LiveSandbox

APP = "omerbh7/scoutflow-app"
GITOPS = "omerbh7/scoutflow-gitops"


def query(live: LiveSandbox, document: str, **variables: Any) -> dict[str, Any]:
    _, answer = live.github.requester.graphql_query(document, variables)
    data: dict[str, Any] = answer["data"]
    return data


def failing(live: LiveSandbox, document: str, **variables: Any) -> dict[str, Any]:
    """The full answer of a document that reports errors (PyGithub raises on those)."""
    with pytest.raises(GithubException) as raised:
        live.github.requester.graphql_query(document, variables)
    answer: dict[str, Any] = raised.value.data
    return answer


def test_every_schema_field_has_a_resolver(live_sandbox: LiveSandbox) -> None:
    """Each field the trimmed schema offers must resolve on the view that answers its type."""
    sandbox = live_sandbox.sandbox
    ctx = gv.Context(sandbox, live_sandbox.server.shapes)
    repo = sandbox.repo(GITOPS)
    head = sandbox.branch_head(repo, "main")
    info = repo.git.commit_info(head)
    readme = repo.git.flat_tree(info.tree)["README.md"]
    with sandbox.lock:
        issue = sandbox.create_issue(repo, sandbox.bot, "Issue")
        comment = sandbox.add_comment(repo, issue, sandbox.bot, "Hello")
        reaction, _ = sandbox.add_reaction(comment.reactions, sandbox.bot, "+1")
        pull = sandbox.create_pull  # the PR view needs a pull request: make one
        sandbox.create_ref(repo, "refs/heads/x", head)
        sandbox.commit_files(repo, "x", {"x.txt": b"x"}, "x")
        pull_issue = pull(repo, sandbox.bot, head="x", base="main", title="PR")
        review = sandbox.submit_review(repo, pull_issue, sandbox.user("omerbh7"), event="APPROVE")
    views: dict[str, Any] = {
        "Query": gql.Root(ctx),
        "Mutation": gql.Root(ctx),
        "Repository": gv.RepositoryView(ctx, repo),
        "Ref": gv.RefView(ctx, repo, "refs/heads/main"),
        "Commit": gv.CommitView(ctx, repo, head),
        "Tree": gv.TreeView(ctx, repo, info.tree, ""),
        "TreeEntry": gv.TreeEntryView(ctx, repo, "README.md", FileEntry(0o100644, readme.sha)),
        "Blob": gv.BlobView(ctx, repo, readme.sha),
        "GitActor": gv.GitActorView(ctx, info.author),
        "StatusCheckRollup": gv.StatusCheckRollupView(ctx, repo, head, "SUCCESS"),
        "Label": gv.LabelView(ctx, repo, repo.labels["bug"]),
        "Reaction": gv.ReactionView(ctx, repo, reaction, None),
        "Issue": gv.IssueView(ctx, repo, issue),
        "PullRequest": gv.PullRequestView(ctx, repo, pull_issue),
        "PullRequestReview": gv.PullRequestReviewView(ctx, repo, pull_issue, review),
        "PullRequestCommit": gv.PullRequestCommitView(ctx, repo, pull_issue, head),
        "IssueComment": gv.IssueCommentView(ctx, repo, comment),
        "User": gv.UserView(ctx, sandbox.user("omerbh7")),
        "Bot": gv.UserView(ctx, sandbox.bot),
        "Team": gv.TeamView(ctx, repo, "platform"),
    }
    assert set(views) == set(gql.type_views())
    missing = []
    for name, kind in gql.schema().type_map.items():
        if not isinstance(kind, GraphQLObjectType) or name.startswith("__"):
            continue
        if name not in views:
            # Payloads, edges, page info, auto-merge and review requests are answered by dicts.
            continue
        for field in kind.fields:
            if not hasattr(views[name], gql.snake(field)):
                missing.append(f"{name}.{field}")
    assert missing == []
    interfaces = [t for t in gql.schema().type_map.values() if isinstance(t, GraphQLInterfaceType)]
    assert {t.name for t in interfaces} >= {"Node", "GitObject", "Actor"}


BOT_QUERY = """
query Promotion($owner: String!, $since: GitTimestamp) {
  gitops: repository(owner: $owner, name: "scoutflow-gitops") {
    id databaseId nameWithOwner url
    defaultBranchRef { name target { oid } }
    dev: object(expression: "main:environments/dev/values.yaml") {
      ... on Blob { oid text byteSize isBinary }
    }
    prod: object(expression: "main:environments/prod/values.yaml") { ... on Blob { text } }
    missing: object(expression: "main:nope.yaml") { ... on Blob { text } }
    root: object(expression: "main:") {
      ... on Tree { entries { name path type object { ... on Tree { oid } } } }
    }
    pullRequests(states: [OPEN], first: 10) { totalCount nodes { number } }
  }
  app: repository(owner: $owner, name: "scoutflow-app") {
    ref(qualifiedName: "refs/heads/main") {
      id name prefix
      target {
        oid
        ... on Commit {
          committedDate
          history(first: 10, path: "backend") {
            totalCount
            nodes {
              oid messageHeadline committedDate url
              author { name email user { login } }
              associatedPullRequests(first: 5) { nodes { number url } }
            }
          }
        }
      }
    }
    recent: object(expression: "main") {
      ... on Commit { history(first: 3, since: $since) { nodes { oid } pageInfo { hasNextPage
        endCursor } } }
    }
  }
}
"""


def test_bot_query_reads_two_repositories(live_sandbox: LiveSandbox) -> None:
    info = live_sandbox.info
    data = query(live_sandbox, BOT_QUERY, owner="omerbh7", since="2025-01-06T09:00:00Z")
    gitops, app = data["gitops"], data["app"]
    assert gitops["nameWithOwner"] == GITOPS
    assert gitops["url"] == f"{live_sandbox.url}/{GITOPS}"
    assert gitops["defaultBranchRef"] == {"name": "main", "target": {"oid": info.gitops_head}}
    if info.values_files:
        assert info.deployed_sha in gitops["dev"]["text"]
        assert gitops["dev"]["isBinary"] is False
    assert gitops["missing"] is None
    assert {"name": "README.md", "path": "README.md", "type": "blob", "object": {}} in gitops[
        "root"
    ]["entries"]
    assert gitops["pullRequests"] == {"totalCount": 0, "nodes": []}

    ref = app["ref"]
    assert (ref["name"], ref["prefix"]) == ("main", "refs/heads/")
    history = ref["target"]["history"]
    assert [n["oid"] for n in history["nodes"]] == [info.app_commits[3], info.app_commits[0]]
    assert history["totalCount"] == 2
    newest = history["nodes"][0]
    assert newest["messageHeadline"] == "Backend: health endpoint"
    assert newest["author"]["user"] == {"login": "omerbh7"}
    assert newest["url"] == f"{live_sandbox.url}/{APP}/commit/{info.app_commits[3]}"
    recent = app["recent"]["history"]
    assert [n["oid"] for n in recent["nodes"]] == list(reversed(info.app_commits))[:3]
    assert recent["pageInfo"]["hasNextPage"] is True
    page_two = query(
        live_sandbox,
        """query($after: String) { repository(owner: "omerbh7", name: "scoutflow-app") {
             object(expression: "main") { ... on Commit { history(first: 3, after: $after) {
               nodes { oid } } } } } }""",
        after=recent["pageInfo"]["endCursor"],
    )
    oids = [n["oid"] for n in page_two["repository"]["object"]["history"]["nodes"]]
    assert oids == list(reversed(info.app_commits))[3:]


def test_objects_by_oid_and_expression_on_a_commit(live_sandbox: LiveSandbox) -> None:
    info = live_sandbox.info
    data = query(
        live_sandbox,
        """query($oid: GitObjectID!, $expr: String!) {
          repository(owner: "omerbh7", name: "scoutflow-app") {
            byOid: object(oid: $oid) { ... on Commit { oid messageHeadline parents(first: 1) {
              nodes { oid } } } }
            atOld: object(expression: $expr) { ... on Blob { text } }
            file: object(expression: "main") { ... on Commit { file(path: "README.md") { name oid
              } } }
          }
        }""",
        oid=info.app_commits[1],
        expr=f"{info.app_commits[0]}:backend/app/main.py",
    )
    repo = data["repository"]
    assert repo["byOid"]["messageHeadline"] == "Frontend: app shell"
    assert repo["byOid"]["parents"]["nodes"] == [{"oid": info.app_commits[0]}]
    assert "healthz" not in repo["atOld"]["text"]
    assert repo["file"]["file"]["name"] == "README.md"


def test_errors_look_like_githubs(live_sandbox: LiveSandbox) -> None:
    unknown = failing(
        live_sandbox, '{ repository(owner: "omerbh7", name: "scoutflow-app") { nope } }'
    )
    assert "Cannot query field 'nope' on type 'Repository'" in unknown["errors"][0]["message"]
    # That document breaks the contract on purpose: keep it out of the teardown check.
    live_sandbox.sandbox.clear_requests()
    missing = failing(live_sandbox, '{ repository(owner: "omerbh7", name: "ghost") { id } }')
    assert missing["errors"][0]["type"] == "NOT_FOUND"
    assert missing["errors"][0]["message"] == (
        "Could not resolve to a Repository with the name 'omerbh7/ghost'."
    )
    assert missing["data"] == {"repository": None}
    unbounded = failing(
        live_sandbox,
        '{ repository(owner: "omerbh7", name: "scoutflow-app") { pullRequests { totalCount } } }',
    )
    assert unbounded["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    too_many = failing(
        live_sandbox,
        """{ repository(owner: "omerbh7", name: "scoutflow-app") {
             object(expression: "main") { ... on Commit { history(first: 101) { totalCount } } }
               } }""",
    )
    assert too_many["errors"][0]["type"] == "EXCESSIVE_PAGINATION"


def _ids(live: LiveSandbox) -> tuple[str, str, str]:
    data = query(
        live,
        """{ repository(owner: "omerbh7", name: "scoutflow-gitops") {
              id ref(qualifiedName: "main") { id target { oid } } } }""",
    )
    repo = data["repository"]
    return repo["id"], repo["ref"]["id"], repo["ref"]["target"]["oid"]


def test_ref_mutations(live_sandbox: LiveSandbox) -> None:
    repo_id, main_id, head = _ids(live_sandbox)
    created = query(
        live_sandbox,
        """mutation($repo: ID!, $oid: GitObjectID!) {
             createRef(input: {repositoryId: $repo, name: "refs/heads/promote/dev", oid: $oid}) {
               ref { id name target { oid } } } }""",
        repo=repo_id,
        oid=head,
    )["createRef"]["ref"]
    assert (created["name"], created["target"]["oid"]) == ("promote/dev", head)
    again = failing(
        live_sandbox,
        """mutation($repo: ID!, $oid: GitObjectID!) {
             createRef(input: {repositoryId: $repo, name: "refs/heads/promote/dev", oid: $oid}) {
               ref { id } } }""",
        repo=repo_id,
        oid=head,
    )
    assert again["errors"][0]["message"] == (
        'A ref named "refs/heads/promote/dev" already exists in the repository.'
    )
    commit = query(
        live_sandbox,
        """mutation($ref: ID!, $head: GitObjectID!, $content: Base64String!) {
             createCommitOnBranch(input: {
               branch: {id: $ref}, expectedHeadOid: $head,
               message: {headline: "Promote dev", body: "Details"},
               fileChanges: {additions: [{path: "promote.txt", contents: $content}]}
             }) { commit { oid messageHeadline messageBody parents(first: 1) { nodes { oid } } }
               } }""",
        ref=created["id"],
        head=head,
        content=base64.b64encode(b"promoted\n").decode(),
    )["createCommitOnBranch"]["commit"]
    assert commit["parents"]["nodes"] == [{"oid": head}]
    assert (commit["messageHeadline"], commit["messageBody"]) == ("Promote dev", "Details")

    not_ff = failing(
        live_sandbox,
        """mutation($ref: ID!, $oid: GitObjectID!) {
             updateRef(input: {refId: $ref, oid: $oid}) { ref { target { oid } } } }""",
        ref=created["id"],
        oid=head,
    )
    assert not_ff["errors"][0]["message"] == "Update is not a fast forward"
    forced = query(
        live_sandbox,
        """mutation($ref: ID!, $oid: GitObjectID!) {
             updateRef(input: {refId: $ref, oid: $oid, force: true}) { ref { target { oid } } }
               }""",
        ref=created["id"],
        oid=head,
    )
    assert forced["updateRef"]["ref"]["target"]["oid"] == head
    query(
        live_sandbox,
        "mutation($ref: ID!) { deleteRef(input: {refId: $ref}) { clientMutationId } }",
        ref=created["id"],
    )
    assert live_sandbox.sandbox.repo(GITOPS).git.ref("refs/heads/promote/dev") is None
    del main_id


UPDATE_REFS = """mutation($repo: ID!, $updates: [RefUpdate!]!) {
  updateRefs(input: {repositoryId: $repo, refUpdates: $updates}) { clientMutationId } }"""


def test_update_refs_is_an_atomic_compare_and_swap(live_sandbox: LiveSandbox) -> None:
    """beforeOid guards every update; one refused update leaves all refs as they were."""
    repo_id, _, head = _ids(live_sandbox)
    git = live_sandbox.sandbox.repo(GITOPS).git
    zero = "0" * 40
    bump = "refs/heads/scoutflow-gitops/bump"
    query(
        live_sandbox,
        UPDATE_REFS,
        repo=repo_id,
        updates=[{"name": bump, "beforeOid": zero, "afterOid": head}],
    )
    assert git.ref(bump) == head

    parent = git.commit_info(head).parents[0]
    stale = failing(
        live_sandbox,
        UPDATE_REFS,
        repo=repo_id,
        updates=[
            {"name": "refs/heads/other", "beforeOid": zero, "afterOid": head},
            {"name": bump, "beforeOid": zero, "afterOid": parent, "force": True},
        ],
    )
    assert stale["errors"][0]["message"] == f"Ref {bump} is at {head}, not {zero}"
    assert stale["data"] == {"updateRefs": None}
    assert (git.ref(bump), git.ref("refs/heads/other")) == (head, None)

    not_ff = failing(
        live_sandbox,
        UPDATE_REFS,
        repo=repo_id,
        updates=[{"name": bump, "beforeOid": head, "afterOid": parent}],
    )
    assert not_ff["errors"][0]["message"] == f"Update of {bump} is not a fast forward"
    query(
        live_sandbox,
        UPDATE_REFS,
        repo=repo_id,
        updates=[{"name": bump, "beforeOid": head, "afterOid": parent, "force": True}],
    )
    assert git.ref(bump) == parent
    query(
        live_sandbox,
        UPDATE_REFS,
        repo=repo_id,
        updates=[{"name": bump, "beforeOid": parent, "afterOid": zero}],
    )
    assert git.ref(bump) is None


def test_stale_commit_is_refused_and_later_mutations_still_run(live_sandbox: LiveSandbox) -> None:
    _, _, head = _ids(live_sandbox)
    live_sandbox.control("POST", "/commits", {"repo": GITOPS, "files": {"moved.txt": "x\n"}})
    answer = failing(
        live_sandbox,
        """mutation($head: GitObjectID!, $repo: ID!) {
          stale: createCommitOnBranch(input: {
            branch: {repositoryNameWithOwner: "omerbh7/scoutflow-gitops", branchName: "main"},
            expectedHeadOid: $head, message: {headline: "stale"}, fileChanges: {}
          }) { commit { oid } }
          later: createRef(input: {repositoryId: $repo, name: "refs/heads/after", oid: $head}) {
            ref { name } }
        }""",
        head=head,
        repo=_ids(live_sandbox)[0],
    )
    assert answer["data"] == {"stale": None, "later": {"ref": {"name": "after"}}}
    error = answer["errors"][0]
    assert error["type"] == "STALE_DATA"
    assert error["path"] == ["stale"]
    assert error["message"] == (
        f'Expected branch to point to "{head}" but it did not. Pull and try again.'
    )


PULL_FIELDS = """id number url title body state headRefName headRefOid baseRefName mergeable
  mergeStateStatus autoMergeRequest { enabledAt mergeMethod } labels(first: 10) { nodes { name }
    }"""


def _open_pull(live: LiveSandbox, branch: str = "promote") -> dict[str, Any]:
    repo_id, _, head = _ids(live)
    query(
        live,
        """mutation($repo: ID!, $oid: GitObjectID!, $name: String!) {
             createRef(input: {repositoryId: $repo, name: $name, oid: $oid}) { ref { id } } }""",
        repo=repo_id,
        oid=head,
        name=f"refs/heads/{branch}",
    )
    live.control("POST", "/commits", {"repo": GITOPS, "branch": branch, "files": {"p.txt": "p\n"}})
    created = query(
        live,
        f"""mutation($repo: ID!, $head: String!) {{
              createPullRequest(input: {{repositoryId: $repo, baseRefName: "main",
                                         headRefName: $head, title: "Promote", body: "Why"}}) {{
                pullRequest {{ {PULL_FIELDS} }} }} }}""",
        repo=repo_id,
        head=branch,
    )
    pull: dict[str, Any] = created["createPullRequest"]["pullRequest"]
    return pull


def test_pull_request_mutations(live_sandbox: LiveSandbox) -> None:
    pull = _open_pull(live_sandbox)
    # Mergeability is computed in the background: the creating answer does not know it yet.
    assert (pull["number"], pull["state"], pull["mergeable"]) == (1, "OPEN", "UNKNOWN")
    assert pull["mergeStateStatus"] == "UNKNOWN"
    assert pull["url"] == f"{live_sandbox.url}/{GITOPS}/pull/1"
    repo_id = _ids(live_sandbox)[0]
    duplicate = failing(
        live_sandbox,
        """mutation($repo: ID!) { createPullRequest(input: {repositoryId: $repo,
             baseRefName: "main", headRefName: "promote", title: "Again"}) { pullRequest { id } }
               }""",
        repo=repo_id,
    )
    assert duplicate["errors"][0]["message"] == "A pull request already exists for omerbh7:promote."
    assert duplicate["errors"][0]["type"] == "UNPROCESSABLE"

    listed = query(
        live_sandbox,
        f"""{{ repository(owner: "omerbh7", name: "scoutflow-gitops") {{
              pullRequests(headRefName: "promote", baseRefName: "main", states: [OPEN], first: 5) {{
                nodes {{ {PULL_FIELDS} }} }}
              pullRequest(number: 1) {{ number headRef {{ name }} }} }} }}""",
    )["repository"]
    assert [p["number"] for p in listed["pullRequests"]["nodes"]] == [1]
    known = listed["pullRequests"]["nodes"][0]
    assert (known["mergeable"], known["mergeStateStatus"]) == ("MERGEABLE", "CLEAN")
    assert listed["pullRequest"]["headRef"] == {"name": "promote"}

    labels = query(
        live_sandbox,
        """{ repository(owner: "omerbh7", name: "scoutflow-gitops") {
              label(name: "enhancement") { id } user: id } user(login: "release-manager") { id }
                }""",
    )
    updated = query(
        live_sandbox,
        """mutation($pr: ID!, $label: ID!, $user: ID!) {
          updatePullRequest(input: {pullRequestId: $pr, title: "Promote dev", body: "Now"}) {
            pullRequest { title body } }
          addLabelsToLabelable(input: {labelableId: $pr, labelIds: [$label]}) {
            labelable { labels(first: 5) { nodes { name } } } }
          requestReviews(input: {pullRequestId: $pr, userIds: [$user]}) {
            pullRequest { reviewRequests(first: 5) { nodes { requestedReviewer {
              ... on User { login } } } } } }
          addComment(input: {subjectId: $pr, body: "Promotion planned"}) {
            commentEdge { node { id body author { login } } } }
        }""",
        pr=pull["id"],
        label=labels["repository"]["label"]["id"],
        user=labels["user"]["id"],
    )
    assert updated["updatePullRequest"]["pullRequest"] == {"title": "Promote dev", "body": "Now"}
    assert updated["addLabelsToLabelable"]["labelable"]["labels"]["nodes"] == [
        {"name": "enhancement"}
    ]
    reviewers = updated["requestReviews"]["pullRequest"]["reviewRequests"]["nodes"]
    assert reviewers == [{"requestedReviewer": {"login": "release-manager"}}]
    comment = updated["addComment"]["commentEdge"]["node"]
    # GraphQL names the App's bot without REST's "[bot]" (fullsend-ai/fullsend#6205).
    assert comment["author"] == {"login": "scoutflow-gitops"}
    reaction = query(
        live_sandbox,
        """mutation($c: ID!) { addReaction(input: {subjectId: $c, content: ROCKET}) {
             reaction { content user { login } } subject { id } } }""",
        c=comment["id"],
    )["addReaction"]
    assert reaction["reaction"]["content"] == "ROCKET"
    assert reaction["subject"] == {"id": comment["id"]}

    clean = failing(
        live_sandbox,
        """mutation($pr: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $pr,
             mergeMethod: SQUASH}) { pullRequest { id } } }""",
        pr=pull["id"],
    )
    assert clean["errors"][0]["message"] == "Pull request Pull request is in clean status"
    assert clean["errors"][0]["type"] == "UNPROCESSABLE"

    stale = failing(
        live_sandbox,
        """mutation($pr: ID!) { mergePullRequest(input: {pullRequestId: $pr,
             expectedHeadOid: "0000000000000000000000000000000000000000"}) { pullRequest { merged
               } } }""",
        pr=pull["id"],
    )
    assert stale["errors"][0]["message"] == (
        "Head branch was modified. Review and try the merge again."
    )
    merged = query(
        live_sandbox,
        """mutation($pr: ID!, $head: GitObjectID!) { mergePullRequest(input: {pullRequestId: $pr,
             expectedHeadOid: $head, mergeMethod: SQUASH, commitHeadline: "Promote dev (#1)"}) {
             pullRequest { state merged mergedAt mergeCommit { oid messageHeadline } } } }""",
        pr=pull["id"],
        head=pull["headRefOid"],
    )["mergePullRequest"]["pullRequest"]
    assert (merged["state"], merged["merged"]) == ("MERGED", True)
    assert merged["mergeCommit"]["messageHeadline"] == "Promote dev (#1)"
    assert _ids(live_sandbox)[2] == merged["mergeCommit"]["oid"]


def test_auto_merge_waits_for_the_required_check(live_sandbox: LiveSandbox) -> None:
    live_sandbox.control("POST", f"/repos/{GITOPS}/settings", {"require_checks": True})
    pull = _open_pull(live_sandbox, "gated")
    assert pull["mergeStateStatus"] == "UNKNOWN"
    state = query(
        live_sandbox,
        "query($id: ID!) { node(id: $id) { ... on PullRequest { mergeStateStatus } } }",
        id=pull["id"],
    )["node"]
    assert state == {"mergeStateStatus": "BLOCKED"}
    enabled = query(
        live_sandbox,
        f"""mutation($pr: ID!) {{ enablePullRequestAutoMerge(input: {{pullRequestId: $pr,
              mergeMethod: SQUASH}}) {{ pullRequest {{ {PULL_FIELDS} }} }} }}""",
        pr=pull["id"],
    )["enablePullRequestAutoMerge"]["pullRequest"]
    assert enabled["autoMergeRequest"]["mergeMethod"] == "SQUASH"
    assert enabled["autoMergeRequest"]["enabledAt"].startswith("2025-01-06T")
    live_sandbox.control(
        "POST", "/checks", {"repo": GITOPS, "sha": pull["headRefOid"], "conclusion": "success"}
    )
    after = query(
        live_sandbox,
        """query($id: ID!) { node(id: $id) { ... on PullRequest { state merged autoMergeRequest {
             mergeMethod } mergeCommit { oid } } } }""",
        id=pull["id"],
    )["node"]
    assert (after["state"], after["merged"], after["autoMergeRequest"]) == ("MERGED", True, None)
    assert after["mergeCommit"]["oid"] == _ids(live_sandbox)[2]
