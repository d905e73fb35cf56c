"""``approval.decide``: four eyes at merge, as a table of what GitHub recorded and the verdict."""

from __future__ import annotations

import pytest

from scoutflow_gitops import approval
from scoutflow_gitops.approval import PullFacts, Review

# The configured login is REST's spelling; GraphQL, which the facts come from, drops "[bot]".
BOT = "scoutflow-gitops[bot]"
GRAPHQL_BOT = "scoutflow-gitops"
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
        "author_login": GRAPHQL_BOT,
        "author_is_bot": True,
        "head_oid": HEAD,
        "body": "@rita asked for this.\n\n" + MARKER + "\n",
        "editor": None,
        "editor_is_bot": False,
        # GitHub resolves commit authors to users only: the bot's own commit has none.
        "commit_authors": (None,),
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
        (
            bot_pr(review("anna"), editor=GRAPHQL_BOT, editor_is_bot=True),
            True,
            "approved by @anna",
        ),
        # A person whose login is the bot's GraphQL spelling is not the bot.
        (bot_pr(review("anna"), editor=GRAPHQL_BOT), False, "edited the PR's description"),
        (bot_pr(review("anna"), editor="rita"), False, "@rita edited the PR's description"),
        (bot_pr(review("anna"), editor="anna"), False, "@anna edited the PR's description"),
        (bot_pr(review("anna"), body="no marker"), False, "does not record who asked"),
        (
            bot_pr(review("anna"), commit_authors=(None, "anna"), commits_total=2),
            False,
            "the bot's PR has 2 commits: someone pushed onto it",
        ),
        (
            bot_pr(review("anna"), commit_authors=(None, None), commits_total=2),
            False,
            "someone pushed onto it",
        ),
        (bot_pr(review("anna"), commits_total=101), False, "too many to tell who wrote them"),
        (human_pr(review("anna")), True, "approved by @anna"),
        (human_pr(review("hugo")), False, "from someone other than @hugo"),
        (
            human_pr(review("anna"), commit_authors=("hugo", "otto"), commits_total=2),
            True,
            "approved by @anna",
        ),
        (
            human_pr(review("otto"), commit_authors=("hugo", "otto"), commits_total=2),
            False,
            "from someone other than @hugo and @otto",
        ),
        (
            human_pr(review("anna"), commit_authors=("hugo", None), commits_total=2),
            False,
            "a commit's author is not a GitHub account",
        ),
        # Another App's PR (Renovate): no person is on record behind it.
        (
            human_pr(review("anna"), author_login="renovate", author_is_bot=True),
            False,
            "@renovate, an App, opened it",
        ),
        # A User named like the bot is a person, its author; the marker is not read.
        (
            bot_pr(review("rita"), author_is_bot=False, commit_authors=(GRAPHQL_BOT,)),
            True,
            "approved by @rita",
        ),
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
    facts = bot_pr(review(GRAPHQL_BOT), author_is_bot=False, commit_authors=())
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


def test_a_requester_who_renamed_their_account_is_still_the_requester() -> None:
    """The attack: rita asks, renames herself to rita-2, approves. Her account id does not
    change (GraphQL ``User.databaseId``; the marker records the event's ``sender.id``)."""
    body = MARKER.replace('"requested_by": "rita"', '"requested_by": "rita", "requested_by_id": 42')
    facts = bot_pr(review("rita-2", user_id=42), body=body)

    verdict = approval.decide(facts, BOT)

    assert not verdict.approved
    assert verdict.details == ("@rita-2's approval does not count: they asked for it",)
    assert approval.decide(bot_pr(review("anna", user_id=7), body=body), BOT).approved


def test_a_person_who_renamed_after_opening_their_pr_cannot_approve_it() -> None:
    facts = human_pr(review("hugo-2", user_id=9), author_id=9)
    assert not approval.decide(facts, BOT).approved
