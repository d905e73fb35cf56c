"""``make demo``: the ScoutFlow story against the GitHub simulator, printed as a timeline.

Everything runs in this process: the simulator is seeded from this checkout's HEAD and served
on a free local port, people and CI act through the simulator's control functions, and every
bot job is the real entrypoint run the way the Actions runner runs it
(``scoutflow_gitops.sandbox.driver``). Times are the simulator's clock and SHAs are real git
hashes built from fixed inputs, so the timeline is the same on every run of one checkout. The
one thing that changes from run to run, the simulator's port, is printed as ``<simulator>``
wherever the bot's text contains a link.

The demo is also a smoke test: each step checks the bot's result and the state it left, and
the exit status is 1 when anything differs from what the story expects.

    python -m scoutflow_gitops.demo            # tell the story, then stop the simulator
    python -m scoutflow_gitops.demo --serve    # ... and keep serving it until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import re
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TextIO

from scoutflow_gitops import yamledit
from scoutflow_gitops.config import DEFAULT_CONFIG_PATH, Environment, PipelineConfig, load_config
from scoutflow_gitops.sandbox.control import finish_workflow_run, post_comment, push_commit
from scoutflow_gitops.sandbox.driver import JobResult, run_job
from scoutflow_gitops.sandbox.gitstore import diff_trees
from scoutflow_gitops.sandbox.model import Issue
from scoutflow_gitops.sandbox.seed import SeedInfo, seed_scoutflow
from scoutflow_gitops.sandbox.server import RunningServer, serve
from scoutflow_gitops.sandbox.state import Sandbox

WIDTH = 100
# Continuation lines start under the text that follows the "HH:MM  " time column.
INDENT = " " * 7
# A bot reply in the timeline is cut to its first lines; the rest is in the thread.
REPLY_LINES = 2
# Where the bot keeps an environment's hold (see ``/rollback`` and ``/release``).
HOLD_FILE = ".github/holds/{env}.yml"


@dataclass(frozen=True)
class Story:
    """The simulated world the steps act on, and what they have seen so far."""

    sandbox: Sandbox
    server: RunningServer
    info: SeedInfo
    out: TextIO
    # SHAs of the commits the story pushes, by the name the steps give them.
    commits: dict[str, str] = field(default_factory=dict)
    # Moments the story learns along the way (when the bot says to come back), by name.
    times: dict[str, datetime] = field(default_factory=dict)
    # What each job was for ("workflow_run", "issue_comment"), in the order of ``jobs``.
    events: list[str] = field(default_factory=list)
    jobs: list[JobResult] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    # -- printing ------------------------------------------------------------------------

    def line(self, text: str) -> None:
        """A timeline entry, stamped with the simulated clock."""
        print(f"{self.sandbox.clock.now():%H:%M}  {text}", file=self.out)

    def detail(self, text: str, extra_indent: int = 0, *, mark: str = "") -> None:
        """Prose under the current entry, wrapped to the width of the timeline.

        ``mark`` starts every printed line (``"> "`` for a quoted reply); otherwise the lines a
        paragraph wraps onto are indented a little further than its first.
        """
        prefix = INDENT + " " * extra_indent + mark
        for part in self.stable(text).splitlines():
            print(
                textwrap.fill(
                    part,
                    WIDTH,
                    initial_indent=prefix,
                    subsequent_indent=prefix + ("" if mark else "  "),
                ),
                file=self.out,
            )

    def block(self, text: str, extra_indent: int = 0) -> None:
        """Text shown as it is (a diff, a log), indented under the current entry."""
        print(
            textwrap.indent(self.stable(text).rstrip("\n"), INDENT + " " * extra_indent),
            file=self.out,
        )

    def stable(self, text: str) -> str:
        """``text`` with the simulator's address, a free port that differs on every run, named."""
        return text.replace(self.server.url, "<simulator>")

    def expect(self, holds: bool, what: str) -> None:
        """Check one thing the story expects; a miss is reported at once and fails the demo."""
        if not holds:
            self.mismatches.append(what)
            self.detail(f"!! expected {what}")

    # -- what people and CI do -----------------------------------------------------------

    def wait(self, minutes: float) -> None:
        with self.sandbox.lock:
            self.sandbox.clock.advance(minutes)

    def wait_until(self, moment: datetime) -> float:
        """Let the simulated clock run on to ``moment`` (not back); the minutes it moved."""
        with self.sandbox.lock:
            minutes = max((moment - self.sandbox.clock.now()) / timedelta(minutes=1), 0.0)
            self.sandbox.clock.advance(minutes)
        return minutes

    def push(self, name: str, message: str, files: dict[str, str | None]) -> str:
        """A developer pushes one commit to the app's main branch."""
        sha = push_commit(self.sandbox, self.info.app_repo, files, message=message)
        self.commits[name] = sha
        self.line(f'push to {self.info.app_repo} main: {sha[:7]} "{message}"')
        return sha

    def ci(
        self,
        workflow: str,
        sha: str,
        *,
        expect: str,
        conclusion: str = "success",
        rerun: bool = False,
    ) -> JobResult:
        """A workflow run of the app finishes; the bot handles its ``workflow_run`` event."""
        payload = finish_workflow_run(
            self.sandbox,
            self.server.shapes,
            self.info.app_repo,
            head_sha=sha,
            workflow=workflow,
            conclusion=conclusion,
            head_branch="main",
        )
        verb = "passed" if conclusion == "success" else f"ended in {conclusion}"
        self.line(f"{workflow} {verb} for {sha[:7]}{' (re-run)' if rerun else ''}")
        job = self._run("workflow_run", payload)
        reason = job.outputs.get("reason", "")
        self.detail(f"bot: {_result(job)}{': ' + reason if reason else ''}")
        self._check(job, f"{workflow} for {sha[:7]}", expect)
        return job

    def comment(self, user: str, body: str, *, expect: str) -> tuple[JobResult, list[str]]:
        """Someone comments on a new issue of the GitOps repository; the bot handles it.

        Prints who said what, the bot's result, its reactions to the comment and the start of
        its reply in the thread; returns the job and the bot's replies, in full.
        """
        payload = post_comment(
            self.sandbox, self.server.shapes, self.info.gitops_repo, user=user, body=body
        )
        number = payload["issue"]["number"]
        self.line(f'{user} comments on issue #{number}: "{body}"')
        job = self._run("issue_comment", payload)
        with self.sandbox.lock:
            issue = self.sandbox.issue(self.sandbox.repo(self.info.gitops_repo), number)
            asked, *answers = issue.comments
            reactions = [r.content for r in asked.reactions if r.user.login != user]
            replies = [c.body for c in answers if c.user.login != user]
        said = f"; reacts {', '.join(reactions)}" if reactions else ""
        if replies:
            self.detail(f"bot: {_result(job)}{said}; replies:")
            for reply in replies:
                self.detail(_first_lines(reply, REPLY_LINES), 3, mark="> ")
        else:
            reason = job.outputs.get("reason", "")
            self.detail(f"bot: {_result(job)}{said}{': ' + reason if reason else ''}")
        self._check(job, f'"{body}" by {user}', expect)
        return job, replies

    def _run(self, event_name: str, payload: dict[str, object]) -> JobResult:
        job = run_job(self.server.url, event_name, payload, sandbox=self.sandbox)
        self.jobs.append(job)
        self.events.append(event_name)
        return job

    def _check(self, job: JobResult, what: str, expect: str) -> None:
        if job.exit_code != 0:
            self.block(job.stderr or job.stdout, 3)
        self.expect(
            job.exit_code == 0 and job.result == expect,
            f"{what} to end in {expect}, got {job.result or 'no result'} (exit {job.exit_code})",
        )

    # -- reading the world ---------------------------------------------------------------

    def config(self) -> PipelineConfig:
        """The pipeline config on the GitOps repository's default branch."""
        text = self._files_on_main()[DEFAULT_CONFIG_PATH].decode("utf-8")
        return load_config(text, DEFAULT_CONFIG_PATH)

    def environment(self, name: str) -> Environment:
        return next(env for env in self.config().environments if env.name == name)

    def tags_on_main(self) -> dict[str, str]:
        """Each environment's image tag on the GitOps repository's default branch."""
        files = self._files_on_main()
        config = load_config(files[DEFAULT_CONFIG_PATH].decode("utf-8"), DEFAULT_CONFIG_PATH)
        return {
            env.name: yamledit.get_value_bytes(
                files[env.values_file], env.image_tag_key, path=env.values_file
            )
            or ""
            for env in config.environments
        }

    def app_headline(self, sha: str) -> str:
        with self.sandbox.lock:
            return self.sandbox.repo(self.info.app_repo).git.commit_info(sha).headline

    def pull(self, pr_number: int) -> Issue:
        """A pull request of the GitOps repository, as it is now."""
        with self.sandbox.lock:
            return self.sandbox.pull(self.sandbox.repo(self.info.gitops_repo), pr_number)

    def open_pulls(self) -> list[Issue]:
        """The GitOps repository's open pull requests, oldest first."""
        with self.sandbox.lock:
            pulls = self.sandbox.repo(self.info.gitops_repo).pulls()
        return sorted((pr for pr in pulls if pr.state == "open"), key=lambda pr: pr.number)

    def pr_changes(self, pr_number: int) -> dict[str, tuple[str | None, str | None]]:
        """Each file a pull request changes, before and after (None: absent), by path.

        A merged PR's changes are its merge commit's; an open one's are its head against where
        it branched from the default branch, as GitHub's "Files changed" shows them.
        """
        with self.sandbox.lock:
            repo = self.sandbox.repo(self.info.gitops_repo)
            pull = self.sandbox.pull(repo, pr_number).pull
            assert pull is not None
            git = repo.git
            if pull.merge_commit_sha is not None:
                changes = git.changed_paths(pull.merge_commit_sha)
            else:
                head = self.sandbox.branch_head(repo, repo.default_branch)
                base = git.merge_base(head, pull.head_sha) or pull.base_sha
                changes = diff_trees(
                    git.flat_tree(git.commit_info(base).tree),
                    git.flat_tree(git.commit_info(pull.head_sha).tree),
                )
            return {
                path: (
                    git.blob(before.sha).decode("utf-8") if before else None,
                    git.blob(after.sha).decode("utf-8") if after else None,
                )
                for path, (before, after) in sorted(changes.items())
            }

    def pr_diff(self, pr_number: int) -> str:
        """What the pull request changes, as a unified diff without context."""
        return "".join(
            "".join(
                difflib.unified_diff(
                    (old or "").splitlines(keepends=True),
                    (new or "").splitlines(keepends=True),
                    "/dev/null" if old is None else f"a/{path}",
                    "/dev/null" if new is None else f"b/{path}",
                    n=0,
                )
            )
            for path, (old, new) in self.pr_changes(pr_number).items()
        )

    def holds_on_main(self) -> list[str]:
        """The environments on hold: those with a hold file on the default branch."""
        files = self._files_on_main()
        return [env for env in self.tags_on_main() if HOLD_FILE.format(env=env) in files]

    def _files_on_main(self) -> dict[str, bytes]:
        with self.sandbox.lock:
            repo = self.sandbox.repo(self.info.gitops_repo)
            head = self.sandbox.branch_head(repo, repo.default_branch)
            tree = repo.git.flat_tree(repo.git.commit_info(head).tree)
            return {path: repo.git.blob(entry.sha) for path, entry in tree.items()}


def _result(job: JobResult) -> str:
    """The job's result and how many requests it took."""
    count = len(job.requests)
    return f"{job.result or 'no result'} ({count} request{'' if count == 1 else 's'})"


def _first_lines(text: str, limit: int) -> str:
    """The first ``limit`` non-blank lines of a reply, with "…" when more follow."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:limit]) + (" …" if len(lines) > limit else "")


def _changed_lines(diff: str) -> list[str]:
    """The removed and added lines of a unified diff, without its file headers."""
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++ ", "--- "))
    ]


Step = Callable[[Story], None]


@dataclass(frozen=True)
class Chapter:
    title: str
    steps: tuple[Step, ...]


# -- Chapter: dev and stage follow CI ------------------------------------------------------


def developer_pushes_a_commit(story: Story) -> None:
    story.wait(1)
    story.push(
        "new",
        "Backend: export scouting reports",
        {"backend/app/reports.py": "def export(player_id: int) -> bytes:\n    return b''\n"},
    )


def backend_ci_passes(story: Story) -> None:
    story.wait(6)
    story.ci("Backend CI", story.commits["new"], expect="waiting")


def frontend_ci_passes(story: Story) -> None:
    story.wait(3)
    story.ci("Frontend CI", story.commits["new"], expect="waiting")


def database_ci_passes_and_deploys(story: Story) -> None:
    before = story.tags_on_main()
    story.wait(4)
    job = story.ci("Database CI", story.commits["new"], expect="merged")
    if job.result != "merged":
        return
    number = int(job.outputs["pr_number"])
    story.detail(f"PR #{number} merged into main:", 3)
    story.block(story.pr_diff(number), 5)
    after = story.tags_on_main()
    new = story.commits["new"]
    story.expect(
        after["dev"] == after["stage"] == new,
        f"dev and stage to run {new[:7]} on main",
    )
    story.expect(after["prod"] == before["prod"], "prod to stay where it was")


def older_commit_ci_finishes_late(story: Story) -> None:
    # The commit pushed just before the new one, whose CI was slower: its runs end after the
    # new commit is deployed.
    older = story.info.app_commits[-1]
    before = story.tags_on_main()
    story.wait(5)
    story.line(f'CI catches up with an older commit, {older[:7]} "{story.app_headline(older)}"')
    for workflow, result in zip(
        story.info.ci_workflows, ("waiting", "waiting", "noop"), strict=True
    ):
        story.wait(1)
        story.ci(workflow, older, expect=result)
    story.expect(story.tags_on_main() == before, "no environment to move back")


def developer_pushes_a_broken_commit(story: Story) -> None:
    story.wait(7)
    story.push(
        "broken",
        "Frontend: player comparison view",
        {"frontend/src/Compare.tsx": "export function Compare() {\n  return null\n}\n"},
    )


def backend_ci_fails(story: Story) -> None:
    before = story.tags_on_main()
    story.wait(5)
    job = story.ci("Backend CI", story.commits["broken"], expect="blocked", conclusion="failure")
    story.expect(job.requests == (), "a failed run to be decided without a request")
    story.expect(story.tags_on_main() == before, "no environment to move")


FOLLOW_CI = Chapter(
    "Dev and stage follow CI",
    (
        developer_pushes_a_commit,
        backend_ci_passes,
        frontend_ci_passes,
        database_ci_passes_and_deploys,
        older_commit_ci_finishes_late,
        developer_pushes_a_broken_commit,
        backend_ci_fails,
    ),
)


# -- Chapter: prod by request, and a rollback that holds stage -----------------------------

# The reply to a promotion asked for too early names the time to come back.
_COME_BACK = re.compile(r"ask again after (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


def reader_asks_for_prod(story: Story) -> None:
    story.wait(2)
    job, _ = story.comment("qa-reader", "/promote prod", expect="refused")
    story.expect(
        "permission gate" in job.outputs.get("reason", ""),
        "the permission gate to refuse qa-reader",
    )


def release_manager_asks_too_early(story: Story) -> None:
    story.wait(1)
    job, replies = story.comment("release-manager", "/promote prod", expect="refused")
    story.expect("soak gate" in job.outputs.get("reason", ""), "the soak gate to refuse")
    match = next(filter(None, map(_COME_BACK.search, replies)), None)
    story.expect(match is not None, "the bot's reply to say when to ask again")
    if match is not None:
        when = datetime.strptime(match[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        story.times["soak over"] = when
    story.expect(not story.open_pulls(), "no promotion PR yet")


def soak_time_passes(story: Story) -> None:
    come_back = story.times.get("soak over")
    if come_back is None:
        return
    # One minute past the time the bot named, through the simulator's clock.
    minutes = story.wait_until(come_back + timedelta(minutes=1))
    story.line(f"the clock moves on {minutes:.0f} minutes, past {come_back:%H:%M} as the bot said")


def release_manager_asks_again(story: Story) -> None:
    before = story.tags_on_main()
    job, _ = story.comment("release-manager", "/promote prod", expect="opened")
    if job.result != "opened":
        return
    number = int(job.outputs["pr_number"])
    pr, prod = story.pull(number), story.environment("prod")
    assert pr.pull is not None and prod.gate is not None
    labels = [label.name for label in pr.labels]
    reviewers = [user.login for user in pr.pull.requested_reviewers]
    story.detail(
        f'PR #{number} "{pr.title}": {pr.state}, {"merged" if pr.pull.merged else "not merged"}',
        3,
    )
    story.detail(
        f"labels {', '.join(labels) or '(none)'}; review requested from "
        f"{', '.join(reviewers) or '(nobody)'}",
        5,
    )
    diff = story.pr_diff(number)
    story.block(diff, 5)
    new = story.commits["new"]
    story.expect(pr.title == f"Promote {new[:7]} to prod", f"PR #{number} to promote {new[:7]}")
    story.expect(
        pr.state == "open" and not pr.pull.merged and pr.pull.auto_merge is None,
        f"PR #{number} to stay open for a person to merge",
    )
    # The requester is never asked to review their own promotion.
    others = [r for r in prod.gate.reviewers if r.lower() != "release-manager"]
    story.expect(
        sorted(labels) == sorted(prod.gate.labels) and sorted(reviewers) == sorted(others),
        f"PR #{number} to carry prod's labels and its reviewers but the requester",
    )
    story.expect(
        list(story.pr_changes(number)) == [prod.values_file] and len(_changed_lines(diff)) == 2,
        f"PR #{number} to change one line of {prod.values_file} and nothing else",
    )
    story.expect(story.tags_on_main() == before, "no environment to move until someone merges")


def release_manager_rolls_back_stage(story: Story) -> None:
    before = story.tags_on_main()
    story.wait(4)
    job, _ = story.comment("release-manager", "/rollback stage", expect="merged")
    if job.result != "merged":
        return
    number = int(job.outputs["pr_number"])
    story.detail(f"PR #{number} merged into main:", 3)
    story.block(story.pr_diff(number), 5)
    deployed = story.info.deployed_sha
    story.expect(
        story.tags_on_main() == {**before, "stage": deployed},
        f"stage, and only stage, to go back to {deployed[:7]}",
    )
    story.expect(story.holds_on_main() == ["stage"], f"{HOLD_FILE.format(env='stage')} on main")


def developer_pushes_a_fix(story: Story) -> None:
    story.wait(6)
    story.push(
        "fix",
        "Frontend: fix player comparison view",
        {"frontend/src/Compare.tsx": "export function Compare() {\n  return <table />;\n}\n"},
    )


def ci_passes_for_the_fix_and_stage_stays_held(story: Story) -> None:
    fix, before = story.commits["fix"], story.tags_on_main()
    job: JobResult | None = None
    for minutes, workflow, result in zip(
        (6, 3, 4), story.info.ci_workflows, ("waiting", "waiting", "merged"), strict=True
    ):
        story.wait(minutes)
        job = story.ci(workflow, fix, expect=result)
    if job is None or job.result != "merged":
        return
    number = int(job.outputs["pr_number"])
    story.detail(f"PR #{number} merged into main:", 3)
    story.block(story.pr_diff(number), 5)
    held = story.tags_on_main()["stage"]
    story.detail(f"stage stays on {held[:7]}: it is on hold", 3)
    story.expect(
        story.tags_on_main() == {**before, "dev": fix},
        f"dev, and only dev, to move to {fix[:7]}: the hold keeps CI away from stage",
    )


def release_manager_releases_stage(story: Story) -> None:
    before = story.tags_on_main()
    story.wait(5)
    job, _ = story.comment("release-manager", "/release stage", expect="merged")
    if job.result != "merged":
        return
    number, hold = int(job.outputs["pr_number"]), HOLD_FILE.format(env="stage")
    # The hold file's lines were shown when the rollback added it.
    story.detail(f"PR #{number} merged into main: deletes {hold}", 3)
    story.expect(
        {path: new for path, (_, new) in story.pr_changes(number).items()} == {hold: None},
        f"PR #{number} to delete {hold} and change nothing else",
    )
    story.expect(story.holds_on_main() == [], "no hold left on main")
    story.expect(story.tags_on_main() == before, "no environment to move until CI passes again")


def ci_passes_again_and_stage_follows(story: Story) -> None:
    fix, before = story.commits["fix"], story.tags_on_main()
    story.wait(3)
    job = story.ci(story.info.ci_workflows[-1], fix, expect="merged", rerun=True)
    if job.result != "merged":
        return
    number = int(job.outputs["pr_number"])
    story.detail(f"PR #{number} merged into main:", 3)
    story.block(story.pr_diff(number), 5)
    story.expect(
        story.tags_on_main() == {**before, "stage": fix},
        f"stage, released, to follow dev to {fix[:7]}",
    )


PROD_BY_REQUEST = Chapter(
    "Prod by request; a rollback holds stage until it is released",
    (
        reader_asks_for_prod,
        release_manager_asks_too_early,
        soak_time_passes,
        release_manager_asks_again,
        release_manager_rolls_back_stage,
        developer_pushes_a_fix,
        ci_passes_for_the_fix_and_stage_stays_held,
        release_manager_releases_stage,
        ci_passes_again_and_stage_follows,
    ),
)

# The chapters in order; each continues in the world the previous one left. To extend the
# story, write its steps as functions of a Story and append a Chapter here.
STORY: tuple[Chapter, ...] = (FOLLOW_CI, PROD_BY_REQUEST)


@contextlib.contextmanager
def world(checkout: Path, out: TextIO) -> Iterator[Story]:
    """The seeded simulator, served on a free port for as long as the block runs."""
    sandbox = Sandbox()
    info = seed_scoutflow(sandbox, checkout)
    server = serve(sandbox)
    try:
        yield Story(sandbox, server, info, out)
    finally:
        server.shutdown()


def tell(story: Story, chapters: Sequence[Chapter]) -> int:
    """Run the chapters, print the timeline and where things stand; 1 if anything differed."""
    deployed = story.info.deployed_sha
    print("ScoutFlow on the GitHub simulator, seeded from this checkout's HEAD", file=story.out)
    print(
        f"{INDENT}{story.info.app_repo}: {len(story.info.app_commits)} commits on main\n"
        f"{INDENT}{story.info.gitops_repo}: every environment runs {deployed[:7]} "
        f'"{story.app_headline(deployed)}"',
        file=story.out,
    )
    for chapter in chapters:
        print(f"\n{chapter.title}\n", file=story.out)
        for step in chapter.steps:
            step(story)
    _standings(story)
    if story.mismatches:
        print(f"\n{len(story.mismatches)} step(s) differ from the story:", file=story.out)
        for what in story.mismatches:
            print(f"  expected {what}", file=story.out)
        return 1
    print("\nEvery step went as the story expects.", file=story.out)
    return 0


def _standings(story: Story) -> None:
    print(f"\nWhere each environment stands (main of {story.info.gitops_repo})\n", file=story.out)
    print(f"{INDENT}environment  image tag  app commit", file=story.out)
    for env, tag in story.tags_on_main().items():
        print(f"{INDENT}{env:<12} {tag[:7]:<10} {story.app_headline(tag)}", file=story.out)
    print(file=story.out)
    for pr in story.open_pulls():
        assert pr.pull is not None
        reviewers = ", ".join(user.login for user in pr.pull.requested_reviewers)
        story.detail(
            f'open: PR #{pr.number} "{pr.title}"'
            + (f", review requested from {reviewers}" if reviewers else "")
        )
    held = story.holds_on_main()
    story.detail(f"on hold: {', '.join(held) or 'none'}")
    total = sum(len(job.requests) for job in story.jobs)
    writes = sum(len(job.writes) for job in story.jobs)
    kinds = {"workflow_run": "CI runs", "issue_comment": "comments"}
    per_event = ", ".join(
        f"{story.events.count(event)} for {kinds.get(event, event)}"
        for event in dict.fromkeys(story.events)
    )
    totals = (
        f"The bot ran {len(story.jobs)} jobs ({per_event}) and made {total} API requests in all "
        f"({writes} of them writes)."
    )
    print("\n" + textwrap.fill(totals, WIDTH), file=story.out)


def _serve_until_stopped(story: Story) -> None:
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(
        f"\nThe simulator keeps serving at {story.server.url} (Ctrl-C stops it)\n"
        f"{INDENT}state: {story.server.url}/_sandbox/state?repo={story.info.gitops_repo}",
        file=story.out,
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scoutflow_gitops.demo",
        description="The ScoutFlow story against the GitHub simulator, as a timeline.",
    )
    parser.add_argument(
        "--serve", action="store_true", help="keep the simulator running afterwards"
    )
    args = parser.parse_args(argv)
    stream = out or sys.stdout
    with world(Path.cwd(), stream) as story:
        status = tell(story, STORY)
        if args.serve:
            _serve_until_stopped(story)
    return status


if __name__ == "__main__":
    sys.exit(main())
