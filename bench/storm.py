"""Event storm: many ``workflow_run`` completions, shuffled, handled by concurrent bot processes.

Run with ``.venv/bin/python bench/storm.py [--commits 30] [--completions 100] [--processes 8]
[--seed 2025] [--concurrency-group MS]``. It replays the storm twice against a fresh simulator
each time, once as is and once with 10% transient failures (502 after the write, 503 before
it), and prints the figures and the invariant checks. Exit status 1 when an invariant fails.
``--concurrency-group MS`` adds a third replay the way the example workflow's ``concurrency:``
group runs jobs: a delivery every MS milliseconds, one job running and one pending, and a newer
delivery cancels the pending one (GitHub's documented rule, whatever ``cancel-in-progress``).

A delivery is what GitHub does when a workflow finishes: the run is recorded as completed in
the simulator, then a job runs the real CLI (``scoutflow-gitops run``) with the payload, as
the Actions runner would. ``--processes`` jobs run at once. Each commit gets its three required
workflows; "red" commits (the newest always among them, so the answer is not simply the last
commit) get one failed workflow and are never fully green. Completions beyond three per commit
are redeliveries of a payload GitHub already sent. ``tests/e2e/test_storm.py`` runs a small
storm through the same code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from random import Random
from typing import Any

from scoutflow_gitops.sandbox import RunningServer, Sandbox, seed_scoutflow, serve
from scoutflow_gitops.sandbox.control import finish_workflow_run, push_commit
from scoutflow_gitops.sandbox.driver import mint_job_token
from scoutflow_gitops.sandbox.faults import Fault, add_fault, list_faults
from scoutflow_gitops.sandbox.model import Repo, RequestRecord
from scoutflow_gitops.sandbox.seed import APP_REPO, CI_WORKFLOWS, GITOPS_REPO

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BOT_PREFIX = "scoutflow-gitops/"
ENVIRONMENTS = ("dev", "stage", "prod")
FOLLOWS_CI = ("dev", "stage")
# A job that hangs is a finding, not something to wait for.
JOB_TIMEOUT = 180
_TAG = re.compile(rb"imageTag:\s*[\"']?([0-9a-f]{40})")
_TITLE_SHA = re.compile(r"\b([0-9a-f]{7,40})\b")


@dataclass(frozen=True)
class StormConfig:
    commits: int = 30
    completions: int = 100
    processes: int = 8
    fault_rate: float = 0.0
    seed: int = 2025
    # Set: run jobs as one concurrency group fed a delivery every this many ms (processes unused).
    group_arrival_ms: int | None = None

    def __post_init__(self) -> None:
        if self.completions < len(CI_WORKFLOWS) * self.commits:
            raise ValueError("every commit needs its three workflow completions")


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: ``run`` names the workflow run, shared by its redeliveries."""

    run: int
    commit: str
    workflow: str
    conclusion: str


@dataclass(frozen=True)
class Job:
    delivery: Delivery
    exit_code: int
    result: str
    error_line: str
    stderr: str
    seconds: float

    @property
    def clear_failure(self) -> bool:
        """Exit 1 with an ``::error`` annotation: a failure the runner shows and a re-run fixes."""
        return self.exit_code == 1 and bool(self.error_line) and "Traceback" not in self.stderr


@dataclass(frozen=True)
class Move:
    """One change of an environment's tag between a commit on main and its first parent."""

    commit: str
    environment: str
    old: str
    new: str
    direction: str  # forward, backward, or outside (a tag that is not an app commit: the seed)


@dataclass(frozen=True)
class StormReport:
    config: StormConfig
    wall_seconds: float
    requests: int
    statuses: Mapping[int, int]
    injected: int
    jobs: tuple[Job, ...]
    expected: str
    deployed: Mapping[str, str]
    moves: tuple[Move, ...]
    pulls: tuple[Mapping[str, Any], ...]
    bot_branches: tuple[str, ...]
    duplicate_comments: tuple[str, ...]
    cancelled: int
    commits: tuple[str, ...] = field(repr=False)
    records: tuple[RequestRecord, ...] = field(repr=False)

    @property
    def exit_codes(self) -> Counter[int]:
        return Counter(job.exit_code for job in self.jobs)

    @property
    def results(self) -> Counter[str]:
        return Counter(job.result or f"exit {job.exit_code}" for job in self.jobs)

    @property
    def unclear_failures(self) -> tuple[Job, ...]:
        return tuple(job for job in self.jobs if job.exit_code != 0 and not job.clear_failure)

    @property
    def backward_moves(self) -> tuple[Move, ...]:
        return tuple(move for move in self.moves if move.direction == "backward")

    @property
    def open_bump_pulls(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(
            p for p in self.pulls if p["state"] == "open" and p["head"].startswith(BOT_PREFIX)
        )

    @property
    def duplicate_pulls(self) -> tuple[str, ...]:
        """Candidates deployed by more than one PR: a retried or raced create made a second.
        A PR closed unmerged deployed nothing (the bot withdraws one opened on a moved main)."""
        candidates = Counter(
            p["candidate"]
            for p in self.pulls
            if p["candidate"] and (p["merged"] or p["state"] == "open")
        )
        return tuple(sorted(sha for sha, count in candidates.items() if count > 1))

    def problems(self) -> list[str]:
        """Every invariant that does not hold, in words; empty when the storm was handled."""
        found = []
        for env in FOLLOWS_CI:
            if self.deployed[env] != self.expected:
                found.append(
                    f"{env} runs {self.name_of(self.deployed[env])}, not the newest fully green "
                    f"commit {self.name_of(self.expected)}"
                )
        found += [
            f"{m.commit[:7]} moved {m.environment} backwards: {self.name_of(m.old)} -> "
            f"{self.name_of(m.new)}"
            for m in self.backward_moves
        ]
        if len(self.open_bump_pulls) > 1:
            numbers = ", ".join(f"#{p['number']}" for p in self.open_bump_pulls)
            found.append(f"{len(self.open_bump_pulls)} open bump PRs: {numbers}")
        found += [f"more than one PR deploys {sha[:7]}" for sha in self.duplicate_pulls]
        found += [f"duplicate comment: {text}" for text in self.duplicate_comments]
        if len(self.bot_branches) > 1:
            found.append(f"more than one bot branch: {', '.join(self.bot_branches)}")
        found += [
            f"job for {self.name_of(j.delivery.commit)} {j.delivery.workflow} exited "
            f"{j.exit_code} without a clear error: {_last_line(j.stderr) or j.error_line}"
            for j in self.unclear_failures
        ]
        return found

    def name_of(self, sha: str) -> str:
        """A commit as a person follows it: its place in the storm, or where it came from."""
        if sha in self.commits:
            return f"{sha[:7]} (storm commit {self.commits.index(sha) + 1}/{len(self.commits)})"
        return f"{sha[:7]} (seeded)"


def plan_deliveries(commits: Sequence[str], config: StormConfig) -> list[Delivery]:
    """Every commit's three completions, failures for the red ones, redeliveries; shuffled."""
    rng = Random(config.seed)
    red = {commits[-1], *rng.sample(list(commits[:-1]), k=len(commits) // 6)}
    firsts: list[Delivery] = []
    for commit in commits:
        failing = rng.choice(CI_WORKFLOWS) if commit in red else None
        for workflow in CI_WORKFLOWS:
            conclusion = "failure" if workflow == failing else "success"
            firsts.append(Delivery(len(firsts), commit, workflow, conclusion))
    extra = config.completions - len(firsts)
    deliveries = firsts + [rng.choice(firsts) for _ in range(extra)]
    rng.shuffle(deliveries)
    return deliveries


def run_storm(config: StormConfig, checkout: Path = PROJECT_ROOT) -> StormReport:
    """Seed a simulator, replay the storm against it, and check what it left behind."""
    sandbox = Sandbox()
    seed_scoutflow(sandbox, checkout)
    commits = [
        push_commit(
            sandbox,
            APP_REPO,
            {f"services/storm/change_{index:03d}.py": f"CHANGE = {index}\n"},
            message=f"Storm change {index}",
        )
        for index in range(1, config.commits + 1)
    ]
    deliveries = plan_deliveries(commits, config)
    if config.fault_rate:
        # Half the failures are 502s GitHub answers after doing the work, half 503s before it;
        # the second fault draws only on requests the first let through.
        half = config.fault_rate / 2
        add_fault(sandbox, Fault(".*", status=502, rate=half, seed=config.seed, after=True))
        second = half / (1 - half)
        add_fault(sandbox, Fault(".*", status=503, rate=second, seed=config.seed + 1))
    server = serve(sandbox)
    try:
        with tempfile.TemporaryDirectory(prefix="storm-") as work:
            started = time.monotonic()
            if config.group_arrival_ms is None:
                jobs = _replay(sandbox, server, deliveries, config.processes, Path(work))
                cancelled = 0
            else:
                jobs, cancelled = _replay_as_group(
                    sandbox, server, deliveries, config.group_arrival_ms / 1000, Path(work)
                )
            wall = time.monotonic() - started
    finally:
        server.shutdown()
    records = tuple(sandbox.requests())
    statuses = Counter(record.status for record in records)
    app = sandbox.repo(APP_REPO)
    return StormReport(
        config=config,
        wall_seconds=wall,
        requests=sum(statuses.values()),
        statuses=dict(statuses),
        injected=sum(int(fault["injected"]) for fault in list_faults(sandbox)),
        jobs=tuple(jobs),
        expected=newest_fully_green(app, commits),
        deployed={env: tag_at(sandbox.repo(GITOPS_REPO), "main", env) for env in FOLLOWS_CI},
        moves=tuple(environment_moves(sandbox.repo(GITOPS_REPO), app)),
        pulls=tuple(_pulls(sandbox.repo(GITOPS_REPO))),
        bot_branches=tuple(
            name.removeprefix("refs/heads/")
            for name in sorted(sandbox.repo(GITOPS_REPO).git.refs(f"refs/heads/{BOT_PREFIX}"))
        ),
        duplicate_comments=tuple(_duplicate_comments(sandbox.repo(GITOPS_REPO))),
        cancelled=cancelled,
        commits=tuple(commits),
        records=records,
    )


def _replay(
    sandbox: Sandbox,
    server: RunningServer,
    deliveries: Sequence[Delivery],
    processes: int,
    work: Path,
) -> list[Job]:
    """Deliver in order, ``processes`` jobs at a time; a run is recorded when first delivered."""
    queue: Iterator[tuple[int, Delivery]] = iter(enumerate(deliveries))
    deliver = _Deliverer(sandbox, server)
    jobs: list[Job] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                item = next(queue, None)
                if item is None:
                    return
                index, delivery = item
                payload = deliver(delivery)
            job = run_job(server.url, delivery, payload, work / f"job{index:03d}")
            with lock:
                jobs.append(job)

    threads = [threading.Thread(target=worker, name=f"storm-{n}") for n in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return jobs


def _replay_as_group(
    sandbox: Sandbox,
    server: RunningServer,
    deliveries: Sequence[Delivery],
    interval: float,
    work: Path,
) -> tuple[list[Job], int]:
    """One job at a time and one pending; a newer delivery cancels the pending one."""
    deliver = _Deliverer(sandbox, server)
    changed = threading.Condition()
    pending: list[tuple[int, Delivery, Mapping[str, Any]]] = []
    finished = False
    cancelled = 0
    jobs: list[Job] = []

    def runner() -> None:
        while True:
            with changed:
                changed.wait_for(lambda: bool(pending) or finished)
                if not pending:
                    return
                index, delivery, payload = pending.pop()
            jobs.append(run_job(server.url, delivery, payload, work / f"job{index:03d}"))

    thread = threading.Thread(target=runner, name="storm-group")
    thread.start()
    for index, delivery in enumerate(deliveries):
        payload = deliver(delivery)
        with changed:
            cancelled += len(pending)
            pending[:] = [(index, delivery, payload)]
            changed.notify()
        time.sleep(interval)
    with changed:
        finished = True
        changed.notify()
    thread.join()
    return jobs, cancelled


class _Deliverer:
    """Records a run as completed on its first delivery; redeliveries reuse its payload."""

    def __init__(self, sandbox: Sandbox, server: RunningServer) -> None:
        self._sandbox = sandbox
        self._server = server
        self._payloads: dict[int, dict[str, Any]] = {}

    def __call__(self, delivery: Delivery) -> Mapping[str, Any]:
        if delivery.run not in self._payloads:
            self._payloads[delivery.run] = finish_workflow_run(
                self._sandbox,
                self._server.shapes,
                APP_REPO,
                head_sha=delivery.commit,
                workflow=delivery.workflow,
                conclusion=delivery.conclusion,
            )
        return self._payloads[delivery.run]


def run_job(url: str, delivery: Delivery, payload: Mapping[str, Any], work: Path) -> Job:
    """One Actions job: the runner's environment and files, the real CLI in a new process."""
    work.mkdir(parents=True)
    event = work / "event.json"
    event.write_text(json.dumps(payload), encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_OUTPUT": str(work / "output"),
        "GITHUB_STEP_SUMMARY": str(work / "summary"),
        "GITHUB_REPOSITORY": APP_REPO,
        "GITHUB_API_URL": url,
        "GITHUB_SERVER_URL": url,
        # A fresh installation token of the App for both repositories, as a job gets one.
        "INPUT_TOKEN": mint_job_token(url, None, (GITOPS_REPO, APP_REPO)),
        "INPUT_GITOPS_REPOSITORY": GITOPS_REPO,
        "INPUT_API_URL": url,
        "SCOUTFLOW_GITOPS_WRITE_INTERVAL": "0",
        "SCOUTFLOW_GITOPS_MERGE_POLL_SECONDS": "0",
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            [_cli(), "run"], env=env, capture_output=True, text=True, timeout=JOB_TIMEOUT
        )
        code, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        code, stdout = -1, _text(expired.stdout)
        stderr = _text(expired.stderr) + f"\n(killed after {JOB_TIMEOUT} s)"
    output = work / "output"
    result = _output(output.read_text(encoding="utf-8"), "result") if output.exists() else ""
    error = next((line for line in stdout.splitlines() if line.startswith("::error")), "")
    return Job(delivery, code, result, error, stderr, time.monotonic() - started)


def _cli() -> str:
    # The console script installed beside this interpreter, as the container action runs it.
    found = shutil.which("scoutflow-gitops", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("scoutflow-gitops is not installed beside this Python: run make install")
    return found


def _text(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def _output(text: str, name: str) -> str:
    """One value from a GITHUB_OUTPUT file written in the ``name<<DELIMITER`` form."""
    match = re.search(rf"^{name}<<(\S+)\n(.*?)\n\1$", text, re.S | re.M)
    return match.group(2) if match else ""


def newest_fully_green(app: Repo, commits: Sequence[str]) -> str:
    """The newest commit whose latest run of every required workflow succeeded."""
    latest: dict[tuple[str, str], str | None] = {}
    for run in sorted(app.runs, key=lambda r: r.id):
        latest[(run.head_sha, run.workflow.name)] = run.conclusion
    green = [c for c in commits if all(latest.get((c, w)) == "success" for w in CI_WORKFLOWS)]
    if not green:
        raise ValueError("the storm has no fully green commit")
    return green[-1]


def tag_at(repo: Repo, revision: str, environment: str) -> str:
    """The image tag ``environments/<env>/values.yaml`` holds at a branch or commit."""
    git = repo.git
    sha = git.ref(f"refs/heads/{revision}") or revision
    entry = git.lookup(git.commit_info(sha).tree, f"environments/{environment}/values.yaml")
    if entry is None:
        return ""
    match = _TAG.search(git.blob(entry.sha))
    return match.group(1).decode("ascii") if match else ""


def environment_moves(gitops: Repo, app: Repo) -> Iterator[Move]:
    """Every tag change along main's first-parent history, judged by the app's ancestry."""
    git = gitops.git
    sha: str | None = git.ref(f"refs/heads/{gitops.default_branch}")
    while sha is not None:
        parents = git.commit_info(sha).parents
        if not parents:
            return
        for env in ENVIRONMENTS:
            old, new = tag_at(gitops, parents[0], env), tag_at(gitops, sha, env)
            if old == new:
                continue
            known = app.git.object_type(old) == "commit" and app.git.object_type(new) == "commit"
            if not known:
                direction = "outside"
            elif app.git.is_ancestor(old, new):
                direction = "forward"
            else:
                direction = "backward"
            yield Move(sha, env, old, new, direction)
        sha = parents[0]


def _pulls(repo: Repo) -> Iterator[Mapping[str, Any]]:
    for issue in sorted(repo.pulls(), key=lambda i: i.number):
        pull = issue.pull
        assert pull is not None
        match = _TITLE_SHA.search(issue.title)
        yield {
            "number": issue.number,
            "title": issue.title,
            "head": pull.head_ref,
            "state": issue.state,
            "merged": pull.merged,
            "candidate": match.group(1) if match else "",
        }


def _duplicate_comments(repo: Repo) -> Iterator[str]:
    for issue in repo.issues.values():
        seen: set[tuple[str, str]] = set()
        for comment in issue.comments:
            key = (comment.user.login, comment.body)
            if key in seen:
                yield f"#{issue.number} by {comment.user.login}: {comment.body[:60]!r}"
            seen.add(key)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def format_report(report: StormReport) -> str:
    config = report.config
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(report.exit_codes.items()))
    results = ", ".join(f"{name} {n}" for name, n in report.results.most_common())
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(report.statuses.items()))
    moves = Counter(move.direction for move in report.moves)
    merged = sum(1 for p in report.pulls if p["merged"])
    clear = sum(1 for job in report.jobs if job.exit_code and job.clear_failure)
    runs = (
        f"{config.processes} processes"
        if config.group_arrival_ms is None
        else f"one concurrency group, a delivery every {config.group_arrival_ms} ms"
    )
    lines = [
        f"storm: {config.completions} completions for {config.commits} commits, {runs}, "
        f"fault rate {config.fault_rate:.0%}, seed {config.seed}",
        f"  wall time            {report.wall_seconds:.1f} s "
        f"(slowest job {max(j.seconds for j in report.jobs):.1f} s)",
        f"  API requests         {report.requests} "
        f"({report.requests / config.completions:.1f} per event; injected faults "
        f"{report.injected})",
        f"  statuses             {statuses}",
        f"  exit codes           {codes} (clear retryable errors: {clear}, "
        f"unclear: {len(report.unclear_failures)})",
        f"  results              {results}",
        f"  jobs run             {len(report.jobs)} (cancelled while pending: {report.cancelled})",
        f"  expected dev/stage   {report.name_of(report.expected)}",
        "  deployed             "
        + ", ".join(f"{env} {report.name_of(sha)}" for env, sha in report.deployed.items()),
        f"  tag moves on main    forward {moves['forward']}, backward {moves['backward']}, "
        f"seed {moves['outside']}",
        f"  bump PRs             {len(report.pulls)} ({merged} merged, "
        f"{len(report.open_bump_pulls)} open), bot branches: "
        + (", ".join(report.bot_branches) or "none"),
    ]
    problems = report.problems()
    lines.append("  invariants           " + ("all hold" if not problems else "VIOLATED"))
    lines += [f"    - {problem}" for problem in problems]
    for job in report.unclear_failures:
        lines.append(f"  unclear failure ({job.delivery.workflow}, {job.delivery.commit[:7]}):")
        lines += [f"      {line}" for line in job.stderr.strip().splitlines()[-6:]]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--commits", type=int, default=30)
    parser.add_argument("--completions", type=int, default=100)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--fault-rate", type=float, default=0.1, help="for the faulted replay")
    parser.add_argument(
        "--concurrency-group",
        type=int,
        metavar="MS",
        help="also replay as one concurrency group fed a delivery every MS milliseconds",
    )
    args = parser.parse_args(argv)
    base = StormConfig(args.commits, args.completions, args.processes, seed=args.seed)
    configs = [base, replace(base, fault_rate=args.fault_rate)]
    if args.concurrency_group is not None:
        configs.append(replace(base, group_arrival_ms=args.concurrency_group))
    failed = False
    for config in configs:
        report = run_storm(config)
        print(format_report(report), flush=True)
        failed = failed or bool(report.problems())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
