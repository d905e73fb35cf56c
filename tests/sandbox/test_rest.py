"""Every REST operation the sandbox serves, driven through PyGithub as the bot would.

The ``live_sandbox`` fixture then checks each request and response against GitHub's OpenAPI
description, so these tests also prove the answers have GitHub's shapes.
"""

from __future__ import annotations

import base64

import pytest
import requests
from github import GithubException, InputGitAuthor, InputGitTreeElement

from tests.sandbox.fixtures import LiveSandbox, github_client


def _status(exc: pytest.ExceptionInfo[GithubException]) -> tuple[int, str]:
    return exc.value.status, str(exc.value.data.get("message"))


def test_requests_without_a_token_get_401(live_sandbox: LiveSandbox) -> None:
    response = requests.get(f"{live_sandbox.url}/repos/omerbh7/scoutflow-app", timeout=5)
    assert response.status_code == 401
    assert response.json()["message"] == "Requires authentication"
    assert "documentation_url" in response.json()


def test_repository_contents_and_history(live_sandbox: LiveSandbox) -> None:
    info = live_sandbox.info
    app = live_sandbox.github.get_repo(info.app_repo)
    assert app.full_name == info.app_repo
    assert app.default_branch == "main"
    assert app.owner.login == "omerbh7"

    history = [c.sha for c in app.get_commits()]
    assert history == list(reversed(info.app_commits))
    touching = [c.sha for c in app.get_commits(path="backend/app/main.py")]
    assert touching == [info.app_commits[3], info.app_commits[0]]
    older = [c.sha for c in app.get_commits(sha=info.app_commits[2])]
    assert older == list(reversed(info.app_commits[:3]))

    content = app.get_contents("backend/app/main.py")
    assert not isinstance(content, list)
    assert b"healthz" in content.decoded_content
    old = app.get_contents("backend/app/main.py", ref=info.app_commits[0])
    assert not isinstance(old, list)
    assert b"healthz" not in old.decoded_content
    listing = app.get_contents("backend")
    assert isinstance(listing, list)
    assert [c.path for c in listing] == ["backend/app", "backend/requirements.txt"]
    with pytest.raises(GithubException) as missing:
        app.get_contents("nope.txt")
    assert _status(missing) == (404, "Not Found")

    commit = app.get_commit(info.app_commits[3])
    assert [f.filename for f in commit.files] == ["backend/app/main.py"]
    assert commit.stats.additions > 0
    assert commit.commit.message == "Backend: health endpoint"
    assert commit.author.login == "omerbh7"


def test_pagination_follows_link_headers(live_sandbox: LiveSandbox) -> None:
    github = github_client(live_sandbox.url, per_page=2)
    app = github.get_repo(live_sandbox.info.app_repo)
    assert [c.sha for c in app.get_commits()] == list(reversed(live_sandbox.info.app_commits))
    response = requests.get(
        f"{live_sandbox.url}/repos/{live_sandbox.info.app_repo}/commits?per_page=4",
        headers={"Authorization": "token sandbox-token"},
        timeout=5,
    )
    assert len(response.json()) == 4
    assert 'rel="next"' in response.headers["Link"]
    assert 'rel="last"' in response.headers["Link"]


def test_compare_reports_true_ahead_and_behind(live_sandbox: LiveSandbox) -> None:
    info = live_sandbox.info
    app = live_sandbox.github.get_repo(info.app_repo)
    ahead = app.compare(info.deployed_sha, "main")
    assert (ahead.status, ahead.ahead_by, ahead.behind_by) == ("ahead", 2, 0)
    assert [c.sha for c in ahead.commits] == list(info.newer_app_commits)
    assert ahead.commits[0].commit.message == "Frontend: list scouted players"
    assert ahead.merge_base_commit.sha == info.deployed_sha
    assert "/compare/" in ahead.html_url
    behind = app.compare("main", info.app_commits[1])
    assert (behind.status, behind.behind_by, behind.total_commits) == ("behind", 4, 0)
    assert app.compare("main", "main").status == "identical"

    side = live_sandbox.sandbox.repo(info.app_repo)
    with live_sandbox.sandbox.lock:
        live_sandbox.sandbox.create_ref(side, "refs/heads/side", info.app_commits[2])
    live_sandbox.control(
        "POST", "/commits", {"repo": info.app_repo, "branch": "side", "files": {"x.txt": "x\n"}}
    )
    diverged = app.compare("main", "side")
    assert (diverged.status, diverged.ahead_by, diverged.behind_by) == ("diverged", 1, 3)
    assert diverged.merge_base_commit.sha == info.app_commits[2]


def test_git_database_refs_blobs_trees_commits(live_sandbox: LiveSandbox) -> None:
    info = live_sandbox.info
    repo = live_sandbox.github.get_repo(info.gitops_repo)
    main = repo.get_git_ref("heads/main")
    assert main.object.sha == info.gitops_head
    assert [r.ref for r in repo.get_git_matching_refs("heads/")] == ["refs/heads/main"]
    with pytest.raises(GithubException) as missing:
        repo.get_git_ref("heads/nope")
    assert missing.value.status == 404

    blob = repo.create_git_blob("hello sandbox\n", "utf-8")
    assert (
        repo.get_git_blob(blob.sha).content.replace("\n", "")
        == base64.b64encode(b"hello sandbox\n").decode()
    )
    base_tree = repo.get_git_tree(info.gitops_head)
    tree = repo.create_git_tree(
        [
            InputGitTreeElement("notes/hello.txt", "100644", "blob", sha=blob.sha),
            InputGitTreeElement("notes/inline.txt", "100644", "blob", content="inline\n"),
        ],
        base_tree,
    )
    recursive = repo.get_git_tree(tree.sha, recursive=True)
    paths = {element.path for element in recursive.tree}
    assert {"notes", "notes/hello.txt", "notes/inline.txt"} <= paths
    assert {e.path for e in base_tree.tree} <= paths
    parent = repo.get_git_commit(info.gitops_head)
    author = InputGitAuthor("Release Bot", "bot@example.com", "2025-01-06T12:00:00Z")
    commit = repo.create_git_commit("Add notes", tree, [parent], author=author)
    assert repo.get_git_commit(commit.sha).parents[0].sha == info.gitops_head
    assert commit.author.name == "Release Bot"

    branch = repo.create_git_ref("refs/heads/notes", commit.sha)
    assert branch.object.sha == commit.sha
    with pytest.raises(GithubException) as exists:
        repo.create_git_ref("refs/heads/notes", commit.sha)
    assert _status(exists) == (422, "Reference already exists")

    with pytest.raises(GithubException) as not_ff:
        branch.edit(info.gitops_head)
    assert _status(not_ff) == (422, "Update is not a fast forward")
    branch.edit(info.gitops_head, force=True)
    assert repo.get_git_ref("heads/notes").object.sha == info.gitops_head
    main.edit(commit.sha)
    assert repo.get_branch("main").commit.sha == commit.sha
    assert [b.name for b in repo.get_branches()] == ["main", "notes"]
    branch.delete()
    assert [b.name for b in repo.get_branches()] == ["main"]


def test_pull_request_lifecycle_with_squash_merge(live_sandbox: LiveSandbox) -> None:
    info = live_sandbox.info
    repo = live_sandbox.github.get_repo(info.gitops_repo)
    repo.create_git_ref("refs/heads/promote", info.gitops_head)
    live_sandbox.control(
        "POST",
        "/commits",
        {"repo": info.gitops_repo, "branch": "promote", "files": {"promote.txt": "x\n"}},
    )
    pull = repo.create_pull(base="main", head="promote", title="Promote", body="Body")
    # GitHub computes mergeability in the background: the first answer does not know it yet.
    assert (pull.number, pull.state, pull.mergeable, pull.mergeable_state) == (
        1,
        "open",
        None,
        "unknown",
    )
    known = repo.get_pull(1)
    assert (known.mergeable, known.mergeable_state) == (True, "clean")
    assert pull.html_url == f"{live_sandbox.url}/{info.gitops_repo}/pull/1"
    assert pull.url == f"{live_sandbox.url}/repos/{info.gitops_repo}/pulls/1"
    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(base="main", head="promote", title="Again")
    assert duplicate.value.status == 422
    assert duplicate.value.data["errors"][0]["message"] == (
        "A pull request already exists for omerbh7:promote."
    )

    assert [p.number for p in repo.get_pulls(head="omerbh7:promote")] == [1]
    assert [p.number for p in repo.get_pulls(state="open", base="main")] == [1]
    assert list(repo.get_pulls(head="omerbh7:other")) == []
    pull.edit(title="Promote dev", body="New body")
    assert repo.get_pull(1).title == "Promote dev"
    repo.create_git_ref("refs/heads/release", info.gitops_head)
    pull.edit(base="release")
    assert repo.get_pull(1).base.ref == "release"
    assert [p.number for p in repo.get_pulls(base="main")] == []
    pull.edit(base="main")

    pull.create_review_request(reviewers=["release-manager"], team_reviewers=["platform"])
    users, teams = pull.get_review_requests()
    assert [u.login for u in users] == ["release-manager"]
    assert [t.slug for t in teams] == ["platform"]
    assert [u.login for u in repo.get_pull(1).requested_reviewers] == ["release-manager"]

    stale = pull.head.sha
    pushed = live_sandbox.control(
        "POST",
        "/commits",
        {"repo": info.gitops_repo, "branch": "promote", "files": {"promote.txt": "y\n"}},
    ).json()["sha"]
    # GitHub's record of the head follows the push late: guarded by the new head, the merge is
    # refused until it has caught up; guarded by the old head, it is refused afterwards.
    with pytest.raises(GithubException) as early:
        pull.merge(sha=pushed, merge_method="squash")
    assert _status(early) == (409, "Head branch was modified. Review and try the merge again.")
    fresh = repo.get_pull(1)
    assert (fresh.head.sha, fresh.mergeable) == (pushed, None)
    with pytest.raises(GithubException) as moved:
        fresh.merge(sha=stale, merge_method="squash")
    assert _status(moved) == (409, "Head branch was modified. Review and try the merge again.")
    assert repo.get_pull(1).mergeable_state == "clean"
    result = fresh.merge(sha=pushed, merge_method="squash")
    assert result.merged
    merged = repo.get_pull(1)
    assert merged.merged and merged.state == "closed"
    assert merged.merge_commit_sha == result.sha
    assert merged.is_merged()
    squash = repo.get_commit(result.sha)
    assert [p.sha for p in squash.parents] == [info.gitops_head]
    assert squash.commit.message.startswith("Promote dev (#1)")
    assert repo.get_contents("promote.txt").decoded_content == b"y\n"  # type: ignore[union-attr]
    assert [p.number for p in repo.get_pulls(state="closed")] == [1]


def test_three_way_merge_and_conflicts(live_sandbox: LiveSandbox) -> None:
    info = live_sandbox.info
    repo = live_sandbox.github.get_repo(info.gitops_repo)
    for branch in ("clean", "conflict"):
        repo.create_git_ref(f"refs/heads/{branch}", info.gitops_head)

    def push(branch: str, files: dict[str, str]) -> None:
        body = {"repo": info.gitops_repo, "branch": branch, "files": files}
        assert live_sandbox.control("POST", "/commits", body).status_code == 201

    push("clean", {"clean.txt": "mine\n"})
    push("conflict", {"shared.txt": "branch\n"})
    push("main", {"shared.txt": "main\n", "other.txt": "main moved\n"})
    opened = [
        repo.create_pull(base="main", head="clean", title="Clean"),
        repo.create_pull(base="main", head="conflict", title="Conflict"),
    ]
    assert [(p.mergeable, p.mergeable_state) for p in opened] == [(None, "unknown")] * 2
    clean, conflict = (repo.get_pull(p.number) for p in opened)
    assert (clean.mergeable, clean.mergeable_state) == (True, "clean")
    assert (conflict.mergeable, conflict.mergeable_state) == (False, "dirty")
    with pytest.raises(GithubException) as refused:
        conflict.merge()
    assert _status(refused) == (405, "Pull Request is not mergeable")

    conflict.edit(state="closed")
    assert repo.get_pull(conflict.number).state == "closed"
    assert repo.get_pull(conflict.number).mergeable is None
    result = clean.merge(merge_method="merge")
    merge_commit = repo.get_commit(result.sha)
    assert len(merge_commit.parents) == 2
    files = {c.path for c in repo.get_contents("")}  # type: ignore[union-attr]
    assert {"clean.txt", "other.txt", "shared.txt"} <= files


def test_required_checks_block_until_green(live_sandbox: LiveSandbox) -> None:
    info = live_sandbox.info
    repo = live_sandbox.github.get_repo(info.gitops_repo)
    settings = live_sandbox.control(
        "POST", f"/repos/{info.gitops_repo}/settings", {"require_checks": True}
    )
    assert settings.json()["require_checks"] is True
    repo.create_git_ref("refs/heads/gated", info.gitops_head)
    sha = live_sandbox.control(
        "POST", "/commits", {"repo": info.gitops_repo, "branch": "gated", "files": {"g": "1\n"}}
    ).json()["sha"]
    pull = repo.create_pull(base="main", head="gated", title="Gated")
    assert pull.mergeable_state == "unknown"
    assert repo.get_pull(pull.number).mergeable_state == "blocked"
    with pytest.raises(GithubException) as blocked:
        pull.merge()
    assert _status(blocked) == (405, 'Required status check "ci" is expected.')
    live_sandbox.control(
        "POST", "/checks", {"repo": info.gitops_repo, "sha": sha, "conclusion": "success"}
    )
    assert repo.get_pull(pull.number).mergeable_state == "clean"


def test_issues_labels_comments_and_reactions(live_sandbox: LiveSandbox) -> None:
    repo = live_sandbox.github.get_repo(live_sandbox.info.gitops_repo)
    issue = repo.create_issue(title="Promotion report", body="Details", labels=["promotion"])
    assert [label.name for label in issue.labels] == ["promotion"]
    assert repo.get_issue(issue.number).title == "Promotion report"
    issue.add_to_labels("bug", "promotion")
    assert [label.name for label in issue.get_labels()] == ["promotion", "bug"]
    issue.edit(state="closed")
    assert repo.get_issue(issue.number).state == "closed"

    comment = issue.create_comment("Done: dev is at abc1234")
    assert comment.html_url.endswith(f"/issues/{issue.number}#issuecomment-{comment.id}")
    assert [c.body for c in issue.get_comments()] == ["Done: dev is at abc1234"]
    fetched = issue.get_comment(comment.id)
    fetched.edit("Done: dev is at def5678")
    assert issue.get_comment(comment.id).body == "Done: dev is at def5678"

    first = comment.create_reaction("rocket")
    again = comment.create_reaction("rocket")
    assert first.id == again.id
    assert [r.content for r in comment.get_reactions()] == ["rocket"]
    issue.create_reaction("eyes")
    assert [r.content for r in issue.get_reactions()] == ["eyes"]
    assert [r.user.login for r in issue.get_reactions()] == ["scoutflow-gitops[bot]"]
    log = live_sandbox.control("GET", "/requests").json()
    reaction_posts = [
        entry["status"]
        for entry in log
        if entry["method"] == "POST" and entry["path"].endswith(f"comments/{comment.id}/reactions")
    ]
    assert reaction_posts == [201, 200]


def test_collaborator_permissions_map_roles_like_github(live_sandbox: LiveSandbox) -> None:
    repo = live_sandbox.github.get_repo(live_sandbox.info.gitops_repo)
    expected = {
        "omerbh7": ("admin", "admin"),
        "release-manager": ("write", "maintain"),
        "dev-writer": ("write", "write"),
        "qa-reader": ("read", "read"),
        "outsider": ("none", "none"),
    }
    live_sandbox.control(
        "POST",
        "/collaborators",
        {"repo": live_sandbox.info.gitops_repo, "user": "triager", "permission": "triage"},
    )
    expected["triager"] = ("read", "triage")
    for login, (permission, role) in expected.items():
        assert repo.get_collaborator_permission(login) == permission, login
        assert repo.get_collaborator_role_name(login) == role, login


def test_workflow_runs_and_dispatch(live_sandbox: LiveSandbox) -> None:
    info = live_sandbox.info
    app = live_sandbox.github.get_repo(info.app_repo)
    runs = app.get_workflow_runs(head_sha=info.deployed_sha)
    assert runs.totalCount == 3
    assert {r.name for r in runs} == set(info.ci_workflows)
    assert all(r.conclusion == "success" and r.status == "completed" for r in runs)
    live_sandbox.control(
        "POST",
        "/workflow-runs",
        {
            "repo": info.app_repo,
            "head_sha": info.app_commits[-1],
            "workflow": "Backend CI",
            "conclusion": "failure",
        },
    )
    failed = list(app.get_workflow_runs(branch="main", status="failure"))
    assert [(r.head_sha, r.run_number) for r in failed] == [(info.app_commits[-1], 2)]
    assert app.get_workflow_run(failed[0].id).path == ".github/workflows/backend-ci.yml"

    # Dispatching needs Actions write, which the bot's App lacks; the owner may.
    owned = live_sandbox.as_user("omerbh7").get_repo(info.app_repo)
    workflow = owned.get_workflow("backend-ci.yml")
    assert workflow.create_dispatch("main", {"environment": "dev"})
    queued = list(app.get_workflow_runs(event="workflow_dispatch"))
    assert [(r.status, r.head_sha) for r in queued] == [("queued", info.app_commits[-1])]
    dispatches = live_sandbox.control("GET", f"/dispatches?repo={info.app_repo}").json()
    assert dispatches[0]["inputs"] == {"environment": "dev"}


def test_installation_repositories(live_sandbox: LiveSandbox) -> None:
    _, body = live_sandbox.github.requester.requestJsonAndCheck("GET", "/installation/repositories")
    assert body["total_count"] == 2
    assert {r["full_name"] for r in body["repositories"]} == {
        live_sandbox.info.app_repo,
        live_sandbox.info.gitops_repo,
    }
