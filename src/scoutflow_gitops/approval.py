"""Four eyes at merge: a PR that moves a gated environment needs a second person's approval.

Pure: the facts GitHub recorded about one PR in, a verdict out. The merge-time check
(``scoutflow-gitops four-eyes``) reads the facts, asks ``decide`` and reports the verdict as a
commit status on the PR's head.

Who is behind a change is taken only from what GitHub records, by account id where GitHub
gives one (a login can be renamed, an id cannot):
- the PR's author, when a person opened it;
- for the bot's PR, the person who asked for it, from the plan marker the bot wrote into the
  body, trusted only while the bot is the last to have edited the body (GitHub records the
  editor); an edit by anyone else voids the record and the check fails until the PR is asked
  for again. The bot's PR holds exactly one commit, the bot's: one pushed onto it by anyone
  else fails the check, as GitHub does not say who pushed it;
- the authors of the PR's commits. A commit whose author GitHub cannot resolve to an account
  fails the check: who wrote it cannot be told.
A PR another App opened never passes: no person is on record behind it.
An approval counts when it is its author's latest verdict on the PR, is for the head commit,
comes from a person who can push to the repository, and from none of the people above.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoutflow_gitops import messages
from scoutflow_gitops.events import bot_key

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
    user_id: int | None = None


@dataclass(frozen=True)
class PullFacts:
    number: int
    author_login: str
    author_is_bot: bool
    head_oid: str
    body: str
    # The last to edit the body; ``None`` when nobody edited it after it was opened.
    editor: str | None
    editor_is_bot: bool
    # Each commit's author as GitHub resolved it; ``None`` for an author GitHub knows no user
    # for (the bot's own commits among them: GitHub resolves commit authors to users only).
    commit_authors: tuple[str | None, ...]
    commits_total: int
    # Oldest first, as GitHub lists them.
    reviews: tuple[Review, ...]
    author_id: int | None = None


@dataclass(frozen=True)
class Verdict:
    approved: bool
    # One line for the commit status (GitHub keeps 140 characters) and the job log.
    summary: str
    # Why no approval counted, one line per reason, for the job log.
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Person:
    login: str
    user_id: int | None
    why: str

    def is_(self, login: str, user_id: int | None) -> bool:
        if self.user_id is not None and user_id is not None:
            return self.user_id == user_id
        return self.login.lower() == login.lower()


def decide(facts: PullFacts, bot_login: str) -> Verdict:
    """Whether ``facts`` show an approval of the head by someone not behind the change."""
    bot = bot_key(bot_login)
    if facts.author_is_bot and not bot:
        # Without the bot's login an App's PR cannot be told from the bot's, whose requester
        # would then go unrecorded and could approve their own promotion.
        return _refused(
            "an App opened this PR and the bot's login is not configured",
            "set the SCOUTFLOW_GITOPS_BOT_LOGIN variable to the bot App's login",
        )
    if facts.commits_total > len(facts.commit_authors):
        return _refused(
            f"the PR has {facts.commits_total} commits, too many to tell who wrote them"
        )
    behind: list[_Person] = []
    if facts.author_is_bot and bot_key(facts.author_login) != bot:
        return _refused(
            f"@{facts.author_login}, an App, opened it: no person is on record behind it",
            "a gated environment moves by the bot's PR or a person's, reviewed by another",
        )
    if facts.author_is_bot:
        found = _requester(facts, bot)
        if isinstance(found, Verdict):
            return found
        behind.append(found)
    else:
        behind.append(_Person(facts.author_login, facts.author_id, "opened it"))
    for login in facts.commit_authors:
        if login is None and not facts.author_is_bot:
            return _refused(
                "a commit's author is not a GitHub account, so who wrote it cannot be told",
                "commit with an email address of your GitHub account",
            )
        if login is not None and not any(p.is_(login, None) for p in behind):
            behind.append(_Person(login, None, "wrote a commit of it"))
    latest: dict[object, Review] = {}
    for review in facts.reviews:
        if review.state in _VERDICTS:
            key = review.user_id if review.user_id is not None else review.login.lower()
            latest[key] = review
    approvers: list[str] = []
    details: list[str] = []
    for review in latest.values():
        if review.state != "APPROVED":
            continue
        person = next((p for p in behind if p.is_(review.login, review.user_id)), None)
        if person is not None:
            details.append(f"@{review.login}'s approval does not count: they {person.why}")
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
    others = " and ".join(f"@{person.login}" for person in behind)
    who = f"someone other than {others}" if others else "someone with write access"
    return Verdict(
        False,
        f"needs an approval of {facts.head_oid[:7]} from {who}",
        tuple(details) or ("no approving review yet",),
    )


def _requester(facts: PullFacts, bot: str) -> _Person | Verdict:
    """Who asked for the bot's PR, while the bot's record of it can be trusted."""
    edited_by_bot = facts.editor_is_bot and bot_key(facts.editor or "") == bot
    if facts.editor is not None and not edited_by_bot:
        return _refused(
            f"@{facts.editor} edited the PR's description, which records who asked for it",
            "the bot's record of who asked for this PR is only trusted while the bot is the "
            "last to have edited the description; close the PR and ask again",
        )
    if facts.commits_total != 1:
        return _refused(
            f"the bot's PR has {facts.commits_total} commits: someone pushed onto it",
            "close the PR and ask again; a promotion PR holds the bot's one commit",
        )
    login = messages.plan_requester(facts.body)
    if login is None:
        return _refused(
            "the bot's PR does not record who asked for it",
            "close the PR and ask again: the new PR records the requester",
        )
    return _Person(login, messages.plan_requester_id(facts.body), "asked for it")


def _refused(summary: str, *details: str) -> Verdict:
    return Verdict(False, summary, details)


def no_gated_move() -> Verdict:
    """Nothing to hold: the PR moves no gated environment."""
    return Verdict(True, "no gated environment changes its image tag")
