"""REST routes for commit statuses (registered on import by ``rest``).

A status is posted for a full SHA; reading takes any ref (a SHA, a branch, a tag). The combined
status keeps the latest status of each context, which is why a verdict is better reported as a
status than as check runs: several runs of one check name leave an older failure visible.
"""

from __future__ import annotations

from scoutflow_gitops.sandbox.model import SandboxError, not_found
from scoutflow_gitops.sandbox.protection import combined_status
from scoutflow_gitops.sandbox.rest import Call, Reply, paginate, route


@route("POST", "/repos/{owner}/{repo}/statuses/{sha}")
def create_status(call: Call) -> Reply:
    repo = call.repo
    status = call.sandbox.create_status(
        repo,
        call.params["sha"],
        call.field("state"),
        call.actor,
        context=call.field("context", required=False) or "default",
        description=call.field("description", required=False),
        target_url=call.field("target_url", required=False),
    )
    body = call.shapes.status(repo, status)
    return Reply(201, body, (("Location", str(body["url"])),))


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses")
def list_statuses(call: Call) -> Reply:
    """Every status of the commit, newest first."""
    repo = call.repo
    statuses = call.sandbox.statuses_for(repo, _commit(call))
    chunk, headers = paginate(call, statuses)
    return Reply(200, [call.shapes.status(repo, s) for s in chunk], headers)


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/status")
def get_combined_status(call: Call) -> Reply:
    """The latest status of each context and their combined state; pages the statuses."""
    repo = call.repo
    sha = _commit(call)
    latest = call.sandbox.latest_statuses(repo, sha)
    chunk, headers = paginate(call, latest)
    state = combined_status([s.state for s in latest])
    return Reply(200, call.shapes.combined_status(repo, sha, state, chunk, len(latest)), headers)


def _commit(call: Call) -> str:
    """The commit ``{ref}`` names: a SHA, a branch or a tag, also as ``heads/B`` or
    ``tags/T``; 404 when it names none."""
    ref = call.params["ref"]
    for spec in (ref, f"refs/{ref}"):
        try:
            return call.sandbox.resolve(call.repo, spec)
        except SandboxError:
            continue
    raise not_found()
