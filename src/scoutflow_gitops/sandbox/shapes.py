"""GitHub's REST and webhook JSON shapes for sandbox records.

Every URL is built from the server's base URL: API URLs as ``{base}/repos/o/r/...`` and page
URLs as ``{base}/o/r/pull/N``, so a client following links stays on the sandbox.
"""

from __future__ import annotations

import base64
import difflib
import zlib
from datetime import datetime
from typing import Any
from urllib.parse import quote

from scoutflow_gitops.sandbox.gitstore import CommitInfo, FileEntry, Signature, diff_trees
from scoutflow_gitops.sandbox.model import (
    LEGACY_PERMISSION,
    REACTIONS,
    UNKNOWN_MERGEABILITY,
    Comment,
    CommitStatus,
    Issue,
    Label,
    PullSnapshot,
    Reaction,
    Repo,
    Review,
    User,
    Workflow,
    WorkflowRun,
    node_id,
)
from scoutflow_gitops.sandbox.state import Sandbox

JSON = dict[str, Any]
DOCS = "https://docs.github.com/rest"


def iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def wrap_base64(data: bytes) -> str:
    """Base64 in 60-character lines with a trailing newline, as GitHub serves file contents."""
    text = base64.b64encode(data).decode("ascii")
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


def error_body(status: int, message: str, errors: tuple[dict[str, str], ...] = ()) -> JSON:
    body: JSON = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = list(errors)
    return body


class Shapes:
    def __init__(self, sandbox: Sandbox, base_url: str) -> None:
        self.sandbox = sandbox
        self.base = base_url.rstrip("/")

    def api(self, repo: Repo, tail: str = "") -> str:
        return f"{self.base}/repos/{repo.full_name}{tail}"

    def html(self, repo: Repo, tail: str = "") -> str:
        return f"{self.base}/{repo.full_name}{tail}"

    # -- accounts --------------------------------------------------------------------------

    def user(self, user: User) -> JSON:
        api = f"{self.base}/users/{quote(user.login)}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": user.node_id,
            "avatar_url": f"{self.base}/avatars/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": self.user_html(user),
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": user.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def user_html(self, user: User) -> str:
        if user.type == "Bot":
            return f"{self.base}/apps/{user.login.removesuffix('[bot]')}"
        return f"{self.base}/{user.login}"

    def user_or_none(self, user: User | None) -> JSON | None:
        return self.user(user) if user else None

    def collaborator(self, repo: Repo, user: User, role: str | None) -> JSON:
        legacy = LEGACY_PERMISSION.get(role or "", "none")
        ranks = ("read", "triage", "write", "maintain", "admin")
        level = ranks.index(role) if role in ranks else -1
        permissions = {
            "pull": level >= 0,
            "triage": level >= 1,
            "push": level >= 2,
            "maintain": level >= 3,
            "admin": level >= 4,
        }
        return {
            **self.user(user),
            "permissions": permissions,
            "role_name": role or "none",
            "permission": legacy,
        }

    def permission(self, repo: Repo, user: User) -> JSON:
        role = self.sandbox.role(repo, user.login)
        collaborator = self.collaborator(repo, user, role)
        collaborator.pop("permission")
        return {
            "permission": LEGACY_PERMISSION.get(role or "", "none"),
            "role_name": role or "none",
            "user": collaborator,
        }

    # -- repositories ----------------------------------------------------------------------

    def repo_urls(self, repo: Repo) -> JSON:
        api = self.api(repo)
        return {
            "id": repo.id,
            "node_id": repo.node_id,
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": self.html(repo),
            "description": None,
            "fork": False,
            "url": api,
            "forks_url": f"{api}/forks",
            "keys_url": f"{api}/keys{{/key_id}}",
            "collaborators_url": f"{api}/collaborators{{/collaborator}}",
            "teams_url": f"{api}/teams",
            "hooks_url": f"{api}/hooks",
            "issue_events_url": f"{api}/issues/events{{/number}}",
            "events_url": f"{api}/events",
            "assignees_url": f"{api}/assignees{{/user}}",
            "branches_url": f"{api}/branches{{/branch}}",
            "tags_url": f"{api}/tags",
            "blobs_url": f"{api}/git/blobs{{/sha}}",
            "git_tags_url": f"{api}/git/tags{{/sha}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "trees_url": f"{api}/git/trees{{/sha}}",
            "statuses_url": f"{api}/statuses/{{sha}}",
            "languages_url": f"{api}/languages",
            "stargazers_url": f"{api}/stargazers",
            "contributors_url": f"{api}/contributors",
            "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription",
            "commits_url": f"{api}/commits{{/sha}}",
            "git_commits_url": f"{api}/git/commits{{/sha}}",
            "comments_url": f"{api}/comments{{/number}}",
            "issue_comment_url": f"{api}/issues/comments{{/number}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "compare_url": f"{api}/compare/{{base}}...{{head}}",
            "merges_url": f"{api}/merges",
            "archive_url": f"{api}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{api}/downloads",
            "issues_url": f"{api}/issues{{/number}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "milestones_url": f"{api}/milestones{{/number}}",
            "notifications_url": f"{api}/notifications{{?since,all,participating}}",
            "labels_url": f"{api}/labels{{/name}}",
            "releases_url": f"{api}/releases{{/id}}",
            "deployments_url": f"{api}/deployments",
        }

    def repo_details(self, repo: Repo) -> JSON:
        host = self.base.split("://", 1)[-1]
        open_issues = sum(1 for i in repo.issues.values() if i.state == "open")
        return {
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.pushed_at or repo.created_at),
            "pushed_at": iso(repo.pushed_at or repo.created_at),
            "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host}:{repo.full_name}.git",
            "clone_url": f"{self.html(repo)}.git",
            "svn_url": self.html(repo),
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": None,
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": True,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_issues,
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if repo.private else "public",
            "forks": 0,
            "open_issues": open_issues,
            "watchers": 0,
            "default_branch": repo.default_branch,
        }

    def repo_settings(self, repo: Repo) -> JSON:
        settings = repo.settings
        return {
            "allow_squash_merge": settings.allow_squash_merge,
            "allow_merge_commit": settings.allow_merge_commit,
            "allow_rebase_merge": settings.allow_rebase_merge,
            "allow_auto_merge": settings.allow_auto_merge,
            "delete_branch_on_merge": settings.delete_branch_on_merge,
            "allow_update_branch": False,
            "use_squash_pr_title_as_default": False,
            "squash_merge_commit_message": "COMMIT_MESSAGES",
            "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
            "merge_commit_message": "PR_TITLE",
            "merge_commit_title": "MERGE_MESSAGE",
        }

    def bot_permissions(self) -> JSON:
        # What an installation token with contents/pull-requests write access is shown.
        return {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True}

    def repo_full(self, repo: Repo) -> JSON:
        return {
            **self.repo_urls(repo),
            **self.repo_details(repo),
            **self.repo_settings(repo),
            "permissions": self.bot_permissions(),
            "temp_clone_token": "",
            "network_count": 0,
            "subscribers_count": 0,
        }

    def repo_short(self, repo: Repo) -> JSON:
        return {
            **self.repo_urls(repo),
            **self.repo_details(repo),
            **self.repo_settings(repo),
            "permissions": self.bot_permissions(),
        }

    def repo_webhook(self, repo: Repo) -> JSON:
        return {**self.repo_urls(repo), **self.repo_details(repo)}

    # -- labels, reactions, issues, comments -----------------------------------------------

    def label(self, repo: Repo, label: Label) -> JSON:
        return {
            "id": label.id,
            "node_id": node_id("LA", label.id),
            "url": self.api(repo, f"/labels/{label.name.replace(' ', '%20')}"),
            "name": label.name,
            "color": label.color,
            "default": label.default,
            "description": label.description,
        }

    def reaction(self, reaction: Reaction) -> JSON:
        return {
            "id": reaction.id,
            "node_id": node_id("REA", reaction.id),
            "user": self.user(reaction.user),
            "content": reaction.content,
            "created_at": iso(reaction.created_at),
        }

    def reaction_rollup(self, url: str, reactions: list[Reaction]) -> JSON:
        counts: JSON = {content: 0 for content in REACTIONS}
        for reaction in reactions:
            counts[reaction.content] += 1
        return {"url": url, "total_count": len(reactions), **counts}

    def author_association(self, repo: Repo, user: User) -> str:
        if user == repo.owner:
            return "OWNER"
        return "COLLABORATOR" if self.sandbox.role(repo, user.login) else "NONE"

    def issue(self, repo: Repo, issue: Issue) -> JSON:
        api = self.api(repo, f"/issues/{issue.number}")
        kind = "pull" if issue.pull else "issues"
        body: JSON = {
            "id": issue.id,
            "node_id": node_id("I", issue.id),
            "url": api,
            "repository_url": self.api(repo),
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": self.html(repo, f"/{kind}/{issue.number}"),
            "number": issue.number,
            "state": issue.state,
            "title": issue.title,
            "body": issue.body,
            "user": self.user(issue.user),
            "labels": [self.label(repo, label) for label in issue.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": len(issue.comments),
            "closed_at": iso(issue.closed_at),
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_by": self.user_or_none(issue.closed_by),
            "author_association": self.author_association(repo, issue.user),
            "state_reason": "completed" if issue.state == "closed" else None,
            "timeline_url": f"{api}/timeline",
            "performed_via_github_app": None,
            "reactions": self.reaction_rollup(f"{api}/reactions", issue.reactions),
        }
        if issue.pull is not None:
            body["draft"] = issue.pull.draft
            body["pull_request"] = {
                "url": self.api(repo, f"/pulls/{issue.number}"),
                "html_url": self.html(repo, f"/pull/{issue.number}"),
                "diff_url": self.html(repo, f"/pull/{issue.number}.diff"),
                "patch_url": self.html(repo, f"/pull/{issue.number}.patch"),
                "merged_at": iso(issue.pull.merged_at),
            }
        return body

    def comment(self, repo: Repo, comment: Comment) -> JSON:
        api = self.api(repo, f"/issues/comments/{comment.id}")
        issue = repo.issues[comment.issue_number]
        kind = "pull" if issue.pull else "issues"
        return {
            "id": comment.id,
            "node_id": node_id("IC", comment.id),
            "url": api,
            "html_url": self.html(repo, f"/{kind}/{issue.number}#issuecomment-{comment.id}"),
            "body": comment.body,
            "user": self.user(comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "issue_url": self.api(repo, f"/issues/{issue.number}"),
            "author_association": self.author_association(repo, comment.user),
            "performed_via_github_app": None,
            "reactions": self.reaction_rollup(f"{api}/reactions", comment.reactions),
        }

    # -- pull requests ---------------------------------------------------------------------

    def team(self, repo: Repo, slug: str) -> JSON:
        org = repo.owner.login
        api = f"{self.base}/organizations/{repo.owner.id}/team/{slug}"
        return {
            "id": zlib.crc32(f"{org}/{slug}".encode()) % 10_000_000,
            "node_id": node_id("T", org, slug),
            "url": api,
            "html_url": f"{self.base}/orgs/{org}/teams/{slug}",
            "name": slug,
            "slug": slug,
            "description": None,
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "permission": "pull",
            "members_url": f"{api}/members{{/member}}",
            "repositories_url": f"{api}/repos",
            "type": "organization",
            "parent": None,
        }

    def pull(self, repo: Repo, issue: Issue, *, full: bool = True, observe: bool = True) -> JSON:
        """A pull request as REST shows it (``full=False``: as lists and webhooks do).
        ``observe=False`` shows the head GitHub has recorded without reading it, for a webhook
        payload, which no client asked for."""
        pull = issue.pull
        assert pull is not None
        n = issue.number
        api = self.api(repo, f"/pulls/{n}")
        issue_api = self.api(repo, f"/issues/{n}")
        # Every answer that shows a pull request is a read of it (its head, its mergeability).
        seen = (
            self.sandbox.observe_pull(repo, issue)
            if observe
            else PullSnapshot(pull.head_sha, UNKNOWN_MERGEABILITY)
        )
        head_sha = seen.head_sha
        base_sha = repo.git.ref(f"refs/heads/{pull.base_ref}") if issue.state == "open" else None
        links = {
            "self": {"href": api},
            "html": {"href": self.html(repo, f"/pull/{n}")},
            "issue": {"href": issue_api},
            "comments": {"href": f"{issue_api}/comments"},
            "review_comments": {"href": f"{api}/comments"},
            "review_comment": {"href": self.api(repo, "/pulls/comments{/number}")},
            "commits": {"href": f"{api}/commits"},
            "statuses": {"href": self.api(repo, f"/statuses/{head_sha}")},
        }
        auto = pull.auto_merge
        body: JSON = {
            "url": api,
            "id": pull.id,
            "node_id": node_id("PR", repo.id, n),
            "html_url": self.html(repo, f"/pull/{n}"),
            "diff_url": self.html(repo, f"/pull/{n}.diff"),
            "patch_url": self.html(repo, f"/pull/{n}.patch"),
            "issue_url": issue_api,
            "commits_url": f"{api}/commits",
            "review_comments_url": f"{api}/comments",
            "review_comment_url": self.api(repo, "/pulls/comments{/number}"),
            "comments_url": f"{issue_api}/comments",
            "statuses_url": self.api(repo, f"/statuses/{head_sha}"),
            "number": n,
            "state": issue.state,
            "locked": False,
            "title": issue.title,
            "user": self.user(issue.user),
            "body": issue.body,
            # GitHub documents a pull request's inline labels with a non-null description.
            "labels": [
                {**self.label(repo, label), "description": label.description or ""}
                for label in issue.labels
            ],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at),
            "merged_at": iso(pull.merged_at),
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [self.user(u) for u in pull.requested_reviewers],
            "requested_teams": [self.team(repo, t) for t in pull.requested_teams],
            "head": self._pull_end(repo, pull.head_ref, head_sha),
            "base": self._pull_end(repo, pull.base_ref, base_sha or pull.base_sha),
            "_links": links,
            "author_association": self.author_association(repo, issue.user),
            "auto_merge": None
            if auto is None
            else {
                "enabled_by": self.user(auto.enabled_by),
                "merge_method": auto.method,
                "commit_title": auto.commit_title,
                "commit_message": auto.commit_message,
            },
            "draft": pull.draft,
        }
        if not full:
            return body
        state = seen.mergeability
        commits = self.sandbox.pull_commits(repo, issue) if issue.state == "open" else []
        additions = deletions = changed = 0
        if commits:
            for path, (old, new) in self.sandbox.pull_files(repo, issue).items():
                del path
                plus, minus = self._line_counts(repo, old, new)
                additions, deletions, changed = additions + plus, deletions + minus, changed + 1
        body.update(
            {
                "merged": pull.merged,
                "mergeable": state.mergeable,
                "rebaseable": state.mergeable,
                "mergeable_state": state.state,
                "merged_by": self.user_or_none(pull.merged_by),
                "comments": len(issue.comments),
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": len(commits),
                "additions": additions,
                "deletions": deletions,
                "changed_files": changed,
            }
        )
        return body

    def review(self, repo: Repo, issue: Issue, review: Review) -> JSON:
        html = self.html(repo, f"/pull/{issue.number}#pullrequestreview-{review.id}")
        pull_api = self.api(repo, f"/pulls/{issue.number}")
        body: JSON = {
            "id": review.id,
            "node_id": node_id("PRR", review.id),
            "user": self.user(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": pull_api,
            "_links": {"html": {"href": html}, "pull_request": {"href": pull_api}},
            "commit_id": review.commit_id,
            "author_association": self.author_association(repo, review.user),
        }
        # GitHub leaves submitted_at out of a review that is still pending.
        if review.submitted_at is not None:
            body["submitted_at"] = iso(review.submitted_at)
        return body

    def review_webhook(self, repo: Repo, issue: Issue, review: Review) -> JSON:
        """A review as ``pull_request_review`` webhooks carry it: the state in lower case."""
        body = self.review(repo, issue, review)
        body["state"] = review.state.lower()
        return body

    def status(self, repo: Repo, status: CommitStatus, *, with_creator: bool = True) -> JSON:
        """A commit status (``with_creator=False``: as the combined status lists it)."""
        body: JSON = {
            "url": self.api(repo, f"/statuses/{status.sha}"),
            "avatar_url": self.user(status.creator)["avatar_url"],
            "id": status.id,
            "node_id": node_id("SC", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": iso(status.created_at),
            "updated_at": iso(status.created_at),
        }
        if with_creator:
            body["creator"] = self.user(status.creator)
        return body

    def combined_status(
        self, repo: Repo, sha: str, state: str, statuses: list[CommitStatus], total: int
    ) -> JSON:
        return {
            "state": state,
            "statuses": [self.status(repo, s, with_creator=False) for s in statuses],
            "sha": sha,
            "total_count": total,
            "repository": self.repo_minimal(repo),
            "commit_url": self.api(repo, f"/commits/{sha}"),
            "url": self.api(repo, f"/commits/{sha}/status"),
        }

    def protection(self, repo: Repo) -> JSON:
        """The default branch's protection in the shape of ``PUT .../protection`` (the control
        API reads and writes it so)."""
        rule = repo.protection
        contexts = self.sandbox.required_contexts(repo)
        return {
            "required_status_checks": {"strict": rule.strict, "contexts": contexts}
            if contexts or rule.strict
            else None,
            "required_pull_request_reviews": {
                "required_approving_review_count": rule.required_approving_review_count,
                "require_code_owner_reviews": rule.require_code_owner_reviews,
                "dismiss_stale_reviews": rule.dismiss_stale_reviews,
            }
            if rule.reviews_required or rule.dismiss_stale_reviews
            else None,
        }

    def _pull_end(self, repo: Repo, ref: str, sha: str) -> JSON:
        return {
            "label": f"{repo.owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": self.repo_short(repo),
        }

    # -- git -------------------------------------------------------------------------------

    def git_ref(self, repo: Repo, name: str, sha: str) -> JSON:
        kind = repo.git.object_type(sha) or "commit"
        return {
            "ref": name,
            "node_id": node_id("REF", repo.id, name),
            "url": self.api(repo, f"/git/{name}"),
            "object": {"type": kind, "sha": sha, "url": self.api(repo, f"/git/{kind}s/{sha}")},
        }

    def _actor(self, signature: Signature) -> JSON:
        return {"name": signature.name, "email": signature.email, "date": iso(signature.when)}

    def _verification(self) -> JSON:
        return {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        }

    def git_commit(self, repo: Repo, info: CommitInfo) -> JSON:
        return {
            "sha": info.sha,
            "node_id": node_id("C", repo.id, info.sha),
            "url": self.api(repo, f"/git/commits/{info.sha}"),
            "html_url": self.html(repo, f"/commit/{info.sha}"),
            "author": self._actor(info.author),
            "committer": self._actor(info.committer),
            "message": info.message,
            "tree": {"sha": info.tree, "url": self.api(repo, f"/git/trees/{info.tree}")},
            "parents": [
                {
                    "sha": p,
                    "url": self.api(repo, f"/git/commits/{p}"),
                    "html_url": self.html(repo, f"/commit/{p}"),
                }
                for p in info.parents
            ],
            "verification": self._verification(),
        }

    def tree(self, repo: Repo, sha: str, *, recursive: bool) -> JSON:
        git = repo.git
        items: list[JSON] = []
        pending = [("", sha)]
        while pending:
            prefix, tree_sha = pending.pop(0)
            for entry in git.entries(tree_sha):
                path = f"{prefix}{entry.name}"
                item: JSON = {
                    "path": path,
                    "mode": f"{entry.mode:06o}",
                    "type": entry.type,
                    "sha": entry.sha,
                }
                if entry.type == "blob":
                    item["size"] = len(git.blob(entry.sha))
                    item["url"] = self.api(repo, f"/git/blobs/{entry.sha}")
                elif entry.type == "tree":
                    item["url"] = self.api(repo, f"/git/trees/{entry.sha}")
                    if recursive:
                        pending.append((f"{path}/", entry.sha))
                items.append(item)
        if recursive:
            items.sort(key=lambda i: i["path"])
        return {
            "sha": sha,
            "url": self.api(repo, f"/git/trees/{sha}"),
            "tree": items,
            "truncated": False,
        }

    def blob(self, repo: Repo, sha: str) -> JSON:
        data = repo.git.blob(sha)
        return {
            "sha": sha,
            "node_id": node_id("B", repo.id, sha),
            "size": len(data),
            "url": self.api(repo, f"/git/blobs/{sha}"),
            "content": wrap_base64(data),
            "encoding": "base64",
        }

    def commit(self, repo: Repo, sha: str, *, with_files: bool = False) -> JSON:
        info = repo.git.commit_info(sha)
        author = self._user_for_email(info.author.email)
        committer = self._user_for_email(info.committer.email)
        body: JSON = {
            "url": self.api(repo, f"/commits/{sha}"),
            "sha": sha,
            "node_id": node_id("C", repo.id, sha),
            "html_url": self.html(repo, f"/commit/{sha}"),
            "comments_url": self.api(repo, f"/commits/{sha}/comments"),
            "commit": {
                "url": self.api(repo, f"/git/commits/{sha}"),
                "author": self._actor(info.author),
                "committer": self._actor(info.committer),
                "message": info.message,
                "tree": {"sha": info.tree, "url": self.api(repo, f"/git/trees/{info.tree}")},
                "comment_count": 0,
                "verification": self._verification(),
            },
            "author": self.user_or_none(author),
            "committer": self.user_or_none(committer),
            "parents": [
                {
                    "sha": p,
                    "url": self.api(repo, f"/commits/{p}"),
                    "html_url": self.html(repo, f"/commit/{p}"),
                }
                for p in info.parents
            ],
        }
        if with_files:
            files = self.files(repo, sha, repo.git.changed_paths(sha))
            additions = sum(f["additions"] for f in files)
            deletions = sum(f["deletions"] for f in files)
            body["stats"] = {
                "total": additions + deletions,
                "additions": additions,
                "deletions": deletions,
            }
            body["files"] = files
        return body

    def _user_for_email(self, email: str) -> User | None:
        # GitHub links a commit to an account by the email; noreply emails carry the login.
        for user in self.sandbox.users.values():
            if email == user.email:
                return user
        return None

    def _line_counts(
        self, repo: Repo, old: FileEntry | None, new: FileEntry | None
    ) -> tuple[int, int]:
        before = repo.git.blob(old.sha).decode("utf-8", "replace").splitlines() if old else []
        after = repo.git.blob(new.sha).decode("utf-8", "replace").splitlines() if new else []
        plus = minus = 0
        for line in difflib.unified_diff(before, after, lineterm="", n=0):
            if line.startswith("+") and not line.startswith("+++"):
                plus += 1
            elif line.startswith("-") and not line.startswith("---"):
                minus += 1
        return plus, minus

    def files(
        self,
        repo: Repo,
        ref: str,
        changes: dict[str, tuple[FileEntry | None, FileEntry | None]],
    ) -> list[JSON]:
        result: list[JSON] = []
        for path, (old, new) in changes.items():
            plus, minus = self._line_counts(repo, old, new)
            status = "added" if old is None else "removed" if new is None else "modified"
            present = new or old
            result.append(
                {
                    "sha": present.sha if present else None,
                    "filename": path,
                    "status": status,
                    "additions": plus,
                    "deletions": minus,
                    "changes": plus + minus,
                    "blob_url": self.html(repo, f"/blob/{ref}/{path}"),
                    "raw_url": self.html(repo, f"/raw/{ref}/{path}"),
                    "contents_url": self.api(repo, f"/contents/{path}?ref={ref}"),
                }
            )
        return result

    def compare(self, repo: Repo, base: str, head: str, spec: str) -> JSON:
        git = repo.git
        base_side = set(git.ancestors(base))
        head_side = set(git.ancestors(head))
        ahead = [c for c in reversed(git.ancestors(head)) if c not in base_side]
        behind = [c for c in git.ancestors(base) if c not in head_side]
        if base == head:
            status = "identical"
        elif not behind:
            status = "ahead"
        elif not ahead:
            status = "behind"
        else:
            status = "diverged"
        merge_base = git.merge_base(base, head) or base
        changes = diff_trees(
            git.flat_tree(git.commit_info(merge_base).tree),
            git.flat_tree(git.commit_info(head).tree),
        )
        return {
            "url": self.api(repo, f"/compare/{spec}"),
            "html_url": self.html(repo, f"/compare/{spec}"),
            "permalink_url": self.html(
                repo, f"/compare/{repo.owner.login}:{base}...{repo.owner.login}:{head}"
            ),
            "diff_url": self.html(repo, f"/compare/{spec}.diff"),
            "patch_url": self.html(repo, f"/compare/{spec}.patch"),
            "base_commit": self.commit(repo, base),
            "merge_base_commit": self.commit(repo, merge_base),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": [self.commit(repo, c) for c in ahead],
            "files": self.files(repo, head, changes),
        }

    def content_file(self, repo: Repo, path: str, ref: str, entry_sha: str) -> JSON:
        data = repo.git.blob(entry_sha)
        body = self._content_entry(repo, path, ref, entry_sha, "file", len(data))
        body.update({"content": wrap_base64(data), "encoding": "base64"})
        return body

    def _content_entry(
        self, repo: Repo, path: str, ref: str, sha: str, kind: str, size: int
    ) -> JSON:
        api = self.api(repo, f"/contents/{path}?ref={ref}")
        git_url = self.api(repo, f"/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}")
        html = self.html(repo, f"/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}")
        return {
            "type": kind,
            "size": size,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": api,
            "git_url": git_url,
            "html_url": html,
            "download_url": self.html(repo, f"/raw/{ref}/{path}") if kind == "file" else None,
            "_links": {"self": api, "git": git_url, "html": html},
        }

    def content_dir(self, repo: Repo, path: str, ref: str, tree_sha: str) -> list[JSON]:
        items = []
        for entry in repo.git.entries(tree_sha):
            child = f"{path}/{entry.name}" if path else entry.name
            kind = {"tree": "dir", "commit": "submodule"}.get(entry.type, "file")
            size = len(repo.git.blob(entry.sha)) if kind == "file" else 0
            items.append(self._content_entry(repo, child, ref, entry.sha, kind, size))
        return items

    def _protected(self, repo: Repo, name: str) -> bool:
        rule = self.protection(repo)
        return name == repo.default_branch and any(value is not None for value in rule.values())

    def branch_short(self, repo: Repo, name: str, sha: str) -> JSON:
        return {
            "name": name,
            "commit": {"sha": sha, "url": self.api(repo, f"/commits/{sha}")},
            "protected": self._protected(repo, name),
        }

    def branch(self, repo: Repo, name: str, sha: str) -> JSON:
        protection_url = self.api(repo, f"/branches/{name}/protection")
        protected = self._protected(repo, name)
        contexts = self.sandbox.required_contexts(repo) if protected else []
        return {
            "name": name,
            "commit": self.commit(repo, sha),
            "_links": {
                "self": self.api(repo, f"/branches/{name}"),
                "html": self.html(repo, f"/tree/{name}"),
            },
            "protected": protected,
            "protection": {
                "enabled": protected,
                "required_status_checks": {
                    "enforcement_level": "non_admins" if contexts else "off",
                    "contexts": contexts,
                    "checks": [{"context": context, "app_id": None} for context in contexts],
                },
            },
            "protection_url": protection_url,
        }

    # -- actions ---------------------------------------------------------------------------

    def workflow_run(self, repo: Repo, run: WorkflowRun) -> JSON:
        api = self.api(repo, f"/actions/runs/{run.id}")
        info = run.head_repo.git.commit_info(run.head_sha)
        pulls = [
            {
                "id": issue.pull.id,
                "number": issue.number,
                "url": self.api(repo, f"/pulls/{issue.number}"),
                "head": {
                    "ref": issue.pull.head_ref,
                    "sha": issue.pull.head_sha,
                    "repo": {"id": repo.id, "url": self.api(repo), "name": repo.name},
                },
                "base": {
                    "ref": issue.pull.base_ref,
                    "sha": issue.pull.base_sha,
                    "repo": {"id": repo.id, "url": self.api(repo), "name": repo.name},
                },
            }
            for issue in repo.pulls()
            if issue.pull is not None
            and issue.state == "open"
            and issue.pull.head_sha == run.head_sha
        ]
        suite = self.sandbox_suite_id(run)
        return {
            "id": run.id,
            "name": run.workflow.name,
            "node_id": node_id("WFR", run.id),
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": run.workflow.path,
            "display_title": run.display_title,
            "run_number": run.run_number,
            "event": run.event,
            "status": run.status,
            "conclusion": run.conclusion,
            "workflow_id": run.workflow.id,
            "check_suite_id": suite,
            "check_suite_node_id": node_id("CS", suite),
            "url": api,
            "html_url": self.html(repo, f"/actions/runs/{run.id}"),
            "pull_requests": pulls,
            "created_at": iso(run.created_at),
            "updated_at": iso(run.updated_at),
            "actor": self.user(run.actor),
            "run_attempt": run.run_attempt,
            "referenced_workflows": [],
            "run_started_at": iso(run.created_at),
            "triggering_actor": self.user(run.actor),
            "jobs_url": f"{api}/jobs",
            "logs_url": f"{api}/logs",
            "check_suite_url": self.api(repo, f"/check-suites/{suite}"),
            "artifacts_url": f"{api}/artifacts",
            "cancel_url": f"{api}/cancel",
            "rerun_url": f"{api}/rerun",
            "previous_attempt_url": None,
            "workflow_url": self.api(repo, f"/actions/workflows/{run.workflow.id}"),
            "head_commit": {
                "id": info.sha,
                "tree_id": info.tree,
                "message": info.message,
                "timestamp": iso(info.committer.when),
                "author": {"name": info.author.name, "email": info.author.email},
                "committer": {"name": info.committer.name, "email": info.committer.email},
            },
            "repository": self.repo_minimal(repo),
            "head_repository": self.repo_minimal(run.head_repo),
            "head_repository_id": run.head_repo.id,
        }

    def workflow(self, repo: Repo, flow: Workflow) -> JSON:
        return {
            "id": flow.id,
            "node_id": node_id("W", flow.id),
            "name": flow.name,
            "path": flow.path,
            "state": "active",
            "created_at": iso(flow.created_at),
            "updated_at": iso(flow.created_at),
            "url": self.api(repo, f"/actions/workflows/{flow.id}"),
            "html_url": self.html(repo, f"/blob/{repo.default_branch}/{flow.path}"),
            "badge_url": self.html(repo, f"/workflows/{flow.name.replace(' ', '%20')}/badge.svg"),
        }

    @staticmethod
    def sandbox_suite_id(run: WorkflowRun) -> int:
        # One check suite per run; derived from the run id so it is stable and unique.
        return run.id + 100_000_000

    def repo_minimal(self, repo: Repo) -> JSON:
        return self.repo_urls(repo)
