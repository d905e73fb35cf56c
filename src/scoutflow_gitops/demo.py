"""``make demo``: the ScoutFlow story against the GitHub simulator, printed as a timeline.

Everything runs in this process: the simulator is seeded from this checkout's HEAD and served
on a free local port, people and CI act through the simulator's control functions, and every
bot job is the real entrypoint run the way the Actions runner runs it
(``scoutflow_gitops.sandbox.driver``). Times are the simulator's clock and SHAs are real git
hashes built from fixed inputs, so the timeline is the same on every run of one checkout.

The demo is also a smoke test: each step checks the bot's result and the state it left, and
the exit status is 1 when anything differs from what the story expects.

    python -m scoutflow_gitops.demo            # tell the story, then stop the simulator
    python -m scoutflow_gitops.demo --serve    # ... and keep serving it until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

from scoutflow_gitops import yamledit
from scoutflow_gitops.config import DEFAULT_CONFIG_PATH, load_config
from scoutflow_gitops.sandbox.control import finish_workflow_run, push_commit
from scoutflow_gitops.sandbox.driver import JobResult, run_job
from scoutflow_gitops.sandbox.seed import SeedInfo, seed_scoutflow
from scoutflow_gitops.sandbox.server import RunningServer, serve
from scoutflow_gitops.sandbox.state import Sandbox

WIDTH = 100
# Continuation lines start under the text that follows the "HH:MM  " time column.
INDENT = " " * 7


@dataclass(frozen=True)
class Story:
    """The simulated world the steps act on, and what they have seen so far."""

    sandbox: Sandbox
    server: RunningServer
    info: SeedInfo
    out: TextIO
    # SHAs of the commits the story pushes, by the name the steps give them.
    commits: dict[str, str] = field(default_factory=dict)
    jobs: list[JobResult] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    # -- printing ------------------------------------------------------------------------

    def line(self, text: str) -> None:
        """A timeline entry, stamped with the simulated clock."""
        print(f"{self.sandbox.clock.now():%H:%M}  {text}", file=self.out)

    def detail(self, text: str, extra_indent: int = 0) -> None:
        """Prose under the current entry, wrapped to the width of the timeline."""
        prefix = INDENT + " " * extra_indent
        for part in text.splitlines():
            print(
                textwrap.fill(part, WIDTH, initial_indent=prefix, subsequent_indent=prefix + "  "),
                file=self.out,
            )

    def block(self, text: str, extra_indent: int = 0) -> None:
        """Text shown as it is (a diff, a log), indented under the current entry."""
        print(textwrap.indent(text.rstrip("\n"), INDENT + " " * extra_indent), file=self.out)

    def expect(self, holds: bool, what: str) -> None:
        """Check one thing the story expects; a miss is reported at once and fails the demo."""
        if not holds:
            self.mismatches.append(what)
            self.detail(f"!! expected {what}")

    # -- what people and CI do -----------------------------------------------------------

    def wait(self, minutes: float) -> None:
        with self.sandbox.lock:
            self.sandbox.clock.advance(minutes)

    def push(self, name: str, message: str, files: dict[str, str | None]) -> str:
        """A developer pushes one commit to the app's main branch."""
        sha = push_commit(self.sandbox, self.info.app_repo, files, message=message)
        self.commits[name] = sha
        self.line(f'push to {self.info.app_repo} main: {sha[:7]} "{message}"')
        return sha

    def ci(self, workflow: str, sha: str, *, expect: str, conclusion: str = "success") -> JobResult:
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
        self.line(f"{workflow} {verb} for {sha[:7]}")
        job = run_job(self.server.url, "workflow_run", payload, sandbox=self.sandbox)
        self.jobs.append(job)
        count = len(job.requests)
        reason = job.outputs.get("reason", "")
        self.detail(
            f"bot: {job.result or 'no result'} ({count} request{'' if count == 1 else 's'})"
            f"{': ' + reason if reason else ''}"
        )
        if job.exit_code != 0:
            self.block(job.stderr or job.stdout, 3)
        self.expect(
            job.exit_code == 0 and job.result == expect,
            f"{workflow} for {sha[:7]} to end in {expect}, got {job.result or 'no result'} "
            f"(exit {job.exit_code})",
        )
        return job

    # -- reading the world ---------------------------------------------------------------

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

    def merged_diff(self, pr_number: int) -> str:
        """What the pull request's merge commit changed on the default branch, no context."""
        with self.sandbox.lock:
            repo = self.sandbox.repo(self.info.gitops_repo)
            pull = self.sandbox.pull(repo, pr_number).pull
            assert pull is not None and pull.merge_commit_sha is not None
            changes = repo.git.changed_paths(pull.merge_commit_sha)
            texts = {
                path: tuple(
                    repo.git.blob(entry.sha).decode("utf-8") if entry else ""
                    for entry in (before, after)
                )
                for path, (before, after) in sorted(changes.items())
            }
        return "".join(
            "".join(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    f"a/{path}",
                    f"b/{path}",
                    n=0,
                )
            )
            for path, (old, new) in texts.items()
        )

    def _files_on_main(self) -> dict[str, bytes]:
        with self.sandbox.lock:
            repo = self.sandbox.repo(self.info.gitops_repo)
            head = self.sandbox.branch_head(repo, repo.default_branch)
            tree = repo.git.flat_tree(repo.git.commit_info(head).tree)
            return {path: repo.git.blob(entry.sha) for path, entry in tree.items()}


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
    story.block(story.merged_diff(number), 5)
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

# The chapters in order; each continues in the world the previous one left. To extend the
# story, write its steps as functions of a Story and append a Chapter here.
STORY: tuple[Chapter, ...] = (FOLLOW_CI,)


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
    total = sum(len(job.requests) for job in story.jobs)
    writes = sum(len(job.writes) for job in story.jobs)
    print(
        f"\nThe bot ran {len(story.jobs)} jobs and made {total} API requests in all "
        f"({writes} of them writes).",
        file=story.out,
    )


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
