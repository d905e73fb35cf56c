"""``approval.decide``: four eyes at merge, as a table of what GitHub recorded and the verdict."""

from __future__ import annotations

import pytest

from scoutflow_gitops import approval
from scoutflow_gitops.approval import PullFacts, Review

BOT = "scoutflow-gitops[bot]"
HEAD = "a" * 40
OLD = "b" * 40
MARKER = (
    '<!-- scoutflow-gitops:plan {"candidate": "' + "c" * 40 + '", "environment": "prod", '
    '"kind": "promote", "requested_by": "rita"} -->'
)


def review(login: str, state: str = "APPROVED", **fields: object) -> Review:
    values: dict[str, object] = {
        "login": login,
        "is_bot": False,
        "state": state,
        "commit_oid": HEAD,
        "can_push": True,
    }
    values.update(fields)
    return Review(**values)  # type: ignore[arg-type]


def bot_pr(*reviews: Review, **fields: object) -> PullFacts:
    values: dict[str, object] = {
        "number": 7,
        "author_login": BOT,
        "author_is_bot": True,
        "head_oid": HEAD,
        "body": "@rita asked for this.\n\n" + MARKER + "\n",
        "editor": None,
        "commit_authors": (BOT,),
        "commits_total": 1,
        "reviews": reviews,
    }
    values.update(fields)
    return PullFacts(**values)  # type: ignore[arg-type]


def human_pr(*reviews: Review, **fields: object) -> PullFacts:
    defaults = {"author_login": "hugo", "author_is_bot": False, "body": "prod to c"}
    return bot_pr(*reviews, **{**defaults, "commit_authors": ("hugo",), **fields})


@pytest.mark.parametrize(
    ("facts", "approved", "says"),
    [
        (bot_pr(review("anna")), True, "approved by @anna for aaaaaaa"),
        (bot_pr(review("rita")), False, "from someone other than @rita"),
        (bot_pr(review("RITA")), False, "from someone other than @rita"),
        (bot_pr(), False, "needs an approval of aaaaaaa"),
        (bot_pr(review("anna", commit_oid=OLD)), False, "needs an approval"),
        (bot_pr(review("anna", commit_oid=None)), False, "needs an approval"),
        (bot_pr(review("anna", can_push=False)), False, "needs an approval"),
        (bot_pr(review("helper[bot]", is_bot=True)), False, "needs an approval"),
        (bot_pr(review("anna"), review("anna", "CHANGES_REQUESTED")), False, "needs"),
        (bot_pr(review("anna"), review("anna", "DISMISSED")), False, "needs"),
        (bot_pr(review("anna"), review("anna", "COMMENTED")), True, "approved by @anna"),
        (bot_pr(review("anna", "CHANGES_REQUESTED"), review("anna")), True, "approved"),
        (bot_pr(review("anna"), editor=BOT), True, "approved by @anna"),
        (bot_pr(review("anna"), editor="rita"), False, "@rita edited the PR's description"),
        (bot_pr(review("anna"), editor="anna"), False, "@anna edited the PR's description"),
        (bot_pr(review("anna"), body="no marker"), False, "does not record who asked"),
        (
            bot_pr(review("anna"), commit_authors=(BOT, "anna"), commits_total=2),
            False,
            "from someone other than @rita and @anna",
        ),
        (bot_pr(review("anna"), commit_authors=(BOT, None), commits_total=2), True, "approved"),
        (bot_pr(review("anna"), commits_total=101), False, "too many to tell who wrote them"),
        (human_pr(review("anna")), True, "approved by @anna"),
        (human_pr(review("hugo")), False, "from someone other than @hugo"),
        # Another App's PR (Renovate): any writer who wrote none of it.
        (human_pr(review("anna"), author_login="renovate[bot]", author_is_bot=True), True, "@anna"),
        # A look-alike of the bot is not the bot: a User named like it has no requester record.
        (bot_pr(review("rita"), author_is_bot=False), True, "approved by @rita"),
    ],
    ids=lambda value: None if isinstance(value, PullFacts | bool) else value[:40],
)
def test_a_gated_pr_needs_the_head_approved_by_someone_not_behind_it(
    facts: PullFacts, approved: bool, says: str
) -> None:
    verdict = approval.decide(facts, BOT)

    assert verdict.approved is approved
    assert says in verdict.summary


def test_a_look_alike_of_the_bot_is_judged_as_its_author() -> None:
    """A User account named like the bot opened it: it is the author, and its own approval or
    a marker naming someone else changes nothing."""
    facts = bot_pr(review(BOT), author_is_bot=False, commit_authors=())
    assert not approval.decide(facts, BOT).approved


def test_without_a_configured_bot_login_an_apps_pr_is_refused() -> None:
    """Unset, the bot's PR cannot be told from another App's: its requester would go
    unrecorded and could approve their own promotion, so the check fails and says why."""
    verdict = approval.decide(bot_pr(review("anna")), "")

    assert not verdict.approved
    assert verdict.details == (
        "set the SCOUTFLOW_GITOPS_BOT_LOGIN variable to the bot App's login",
    )
    assert approval.decide(human_pr(review("anna")), "").approved


def test_a_refusal_says_why_each_approval_did_not_count() -> None:
    facts = bot_pr(
        review("rita"),
        review("anna", commit_oid=OLD),
        review("otto", can_push=False),
    )
    verdict = approval.decide(facts, BOT)

    assert not verdict.approved
    assert verdict.summary == "needs an approval of aaaaaaa from someone other than @rita"
    assert verdict.details == (
        "@rita's approval does not count: they asked for it",
        "@anna approved bbbbbbb, not the head aaaaaaa",
        "@otto's approval does not count: no write access",
    )
