"""Four eyes at merge: a PR that moves a gated environment needs a second person's approval.

Pure: the facts GitHub recorded about one PR in, a verdict out. The merge-time check
(``scoutflow-gitops four-eyes``) reads the facts, asks ``decide`` and reports the verdict as a
commit status on the PR's head.

Who is behind a change is taken only from what GitHub records and nobody can rewrite:
- the PR's author, unless it is the bot's App;
- for the bot's PR, the person who asked for it, from the plan marker the bot wrote into the
  body, trusted only while the bot is the last to have edited the body (GitHub records the
  editor); an edit by anyone else voids the record and the check fails until the PR is asked
  for again;
- the authors of the PR's commits other than the bot.
An approval counts when it is its author's latest verdict on the PR, is for the head commit,
comes from someone who can push to the repository, and from none of the people above.
Approving an older head counts for nothing: the content approved is not what merges.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoutflow_gitops import messages

# Review states that are a reviewer's verdict; a comment leaves the previous one standing.
_VERDICTS = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


@dataclass(frozen=True)
class Review:
    login: str
    is_bot: bool
    # APPROVED, CHANGES_REQUESTED, DISMISSED, COMMENTED or PENDING, as GitHub reports it.
    state: str
    # The head the review was given on; ``None`` when GitHub no longer has that commit.
    commit_oid: str | None
    can_push: bool


@dataclass(frozen=True)
class PullFacts:
    number: int
    author_login: str
    author_is_bot: bool
    head_oid: str
    body: str
    # The last to edit the body; ``None`` when nobody edited it after it was opened.
    editor: str | None
    # Each commit's author as GitHub resolved it; ``None`` for an author GitHub knows no user for.
    commit_authors: tuple[str | None, ...]
    commits_total: int
    # Oldest first, as GitHub lists them.
    reviews: tuple[Review, ...]


@dataclass(frozen=True)
class Verdict:
    approved: bool
    # One line for the commit status (GitHub keeps 140 characters) and the job log.
    summary: str
    # Why no approval counted, one line per reason, for the job log.
    details: tuple[str, ...] = ()


def decide(facts: PullFacts, bot_login: str) -> Verdict:
    """Whether ``facts`` show an approval of the head by someone not behind the change."""
    bot = bot_login.strip().lower()
    if facts.author_is_bot and not bot:
        # Without the bot's login an App's PR cannot be told from the bot's, whose requester
        # would then go unrecorded and could approve their own promotion.
        return Verdict(
            False,
            "an App opened this PR and the bot's login is not configured",
            ("set the SCOUTFLOW_GITOPS_BOT_LOGIN variable to the bot App's login",),
        )
    is_ours = facts.author_is_bot and facts.author_login.lower() == bot
    # Lower-cased login -> (login as GitHub spells it, why that person is behind the change).
    behind: dict[str, tuple[str, str]] = {}
    if is_ours:
        if facts.editor is not None and facts.editor.lower() != bot:
            return Verdict(
                False,
                f"@{facts.editor} edited the PR's description, which records who asked for it",
                (
                    "the bot's record of who asked for this PR is only trusted while the bot is "
                    "the last to have edited the description; close the PR and ask again",
                ),
            )
        requester = messages.plan_requester(facts.body)
        if requester is None:
            return Verdict(
                False,
                "the bot's PR does not record who asked for it",
                ("close the PR and ask again: the new PR records the requester",),
            )
        behind[requester.lower()] = (requester, "asked for it")
    elif facts.author_is_bot:
        pass  # another App (Renovate, say): its commits' authors and the reviewers decide.
    else:
        behind[facts.author_login.lower()] = (facts.author_login, "opened it")
    if facts.commits_total > len(facts.commit_authors):
        return Verdict(
            False,
            f"the PR has {facts.commits_total} commits, too many to tell who wrote them",
        )
    for login in facts.commit_authors:
        if login is not None and login.lower() != bot:
            behind.setdefault(login.lower(), (login, "wrote a commit of it"))
    latest: dict[str, Review] = {}
    for review in facts.reviews:
        if review.state in _VERDICTS:
            latest[review.login.lower()] = review
    approvers: list[str] = []
    details: list[str] = []
    for key, review in latest.items():
        if review.state != "APPROVED":
            continue
        if key in behind:
            details.append(f"@{review.login}'s approval does not count: they {behind[key][1]}")
        elif review.is_bot:
            details.append(f"@{review.login}'s approval does not count: it is an App")
        elif not review.can_push:
            details.append(f"@{review.login}'s approval does not count: no write access")
        elif review.commit_oid != facts.head_oid:
            details.append(
                f"@{review.login} approved {(review.commit_oid or 'a commit')[:7]}, "
                f"not the head {facts.head_oid[:7]}"
            )
        else:
            approvers.append(review.login)
    if approvers:
        names = ", ".join(f"@{login}" for login in approvers)
        return Verdict(True, f"approved by {names} for {facts.head_oid[:7]}")
    others = " and ".join(f"@{login}" for login, _ in behind.values())
    who = f"someone other than {others}" if others else "someone with write access"
    return Verdict(
        False,
        f"needs an approval of {facts.head_oid[:7]} from {who}",
        tuple(details) or ("no approving review yet",),
    )


def no_gated_move(environments: tuple[str, ...]) -> Verdict:
    """Nothing to hold: the PR moves no gated environment (or only ones listed as free)."""
    if not environments:
        return Verdict(True, "no gated environment changes its image tag")
    return Verdict(True, f"only {', '.join(environments)} change; none is gated")
