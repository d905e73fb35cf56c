"""Requests per event against the bot's budget, and the bot's CPU time per event.

Run with ``.venv/bin/python bench/request_budget.py [RUNS]`` (default 20). The simulator runs in a
subprocess (``scoutflow-gitops sandbox serve``) and is driven over its control API; each bot job
runs in this process through ``scoutflow_gitops.sandbox.driver``, which times the entrypoint
with ``time.process_time``. With the simulator's request handling in the other process, that
CPU time is the bot's own (parsing, planning, PyGithub, JSON), not the server's. A warm-up job
pays the one-off imports first. Requests are counted in the simulator's log: every REST call
and every GraphQL document is one request.

Exits 1 when a scenario ends differently than expected or goes over its budget.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests as http

from scoutflow_gitops.sandbox.driver import JobResult, run_job
from scoutflow_gitops.sandbox.seed import APP_REPO, CI_WORKFLOWS

ROOT = Path(__file__).resolve().parents[1]
BACKEND, FRONTEND, DATABASE = CI_WORKFLOWS

# A straightforward PyGithub version of one bump of dev and stage, one request per call. It is
# not run: the figure printed beside the measured ones is this list's length.
PYGITHUB_BUMP = (
    ("GET", "/repos/{gitops}", "gh.get_repo(gitops)"),
    ("GET", "/repos/{gitops}/contents/.github/scoutflow-gitops.yml", "repo.get_contents"),
    ("GET", "/repos/{app}", "gh.get_repo(app)"),
    ("GET", "/repos/{app}/actions/runs?head_sha={sha}", "app.get_workflow_runs"),
    ("GET", "/repos/{gitops}/contents/environments/dev/values.yaml", "repo.get_contents"),
    ("GET", "/repos/{gitops}/contents/environments/stage/values.yaml", "repo.get_contents"),
    ("GET", "/repos/{app}/compare/{deployed}...{sha}", "app.compare (never downgrade)"),
    ("GET", "/repos/{gitops}/git/ref/heads/main", "repo.get_git_ref"),
    ("POST", "/repos/{gitops}/git/refs", "repo.create_git_ref"),
    ("PUT", "/repos/{gitops}/contents/environments/dev/values.yaml", "repo.update_file"),
    ("PUT", "/repos/{gitops}/contents/environments/stage/values.yaml", "repo.update_file"),
    ("POST", "/repos/{gitops}/pulls", "repo.create_pull"),
    ("POST", "/repos/{gitops}/issues/{number}/labels", "pull.add_to_labels"),
    ("PUT", "/repos/{gitops}/pulls/{number}/merge", "pull.merge"),
)


@dataclass(frozen=True)
class Scenario:
    name: str
    expect: str
    budget: int


FIRST_BUMP = Scenario("first bump (creates labels)", "merged", 7)
BUMP = Scenario("fresh bump of dev+stage", "merged", 6)
WAITING = Scenario("waiting", "waiting", 2)
NOOP = Scenario("noop (event for what already runs)", "noop", 3)
NOOP_OLDER = Scenario("noop for an older commit", "noop", 4)
SKIPPED = Scenario("skipped (pull_request run)", "skipped", 0)
# The followed branch is in the pipeline config, so this skip needs the one state query.
SKIPPED_BRANCH = Scenario("skipped (feature branch)", "skipped", 1)
BLOCKED = Scenario("blocked (failed workflow)", "blocked", 0)
# With the App's key the bot mints its own tokens: the installation lookup and two tokens
# (a writer for the GitOps repository, a reader for it and the app repository).
APP_BUMP = Scenario("fresh bump, App credentials", "merged", 9)
# A required check pending on the GitOps repository: the PR waits for it with auto-merge on,
# and the next commit's bump moves that open PR (scratch commit, one compare-and-swap).
AUTO_MERGE = Scenario("bump waiting on a required check", "auto-merge-enabled", 6)
UPDATE = Scenario("bump onto the open PR", "auto-merge-enabled", 8)
SCENARIOS = (
    FIRST_BUMP,
    BUMP,
    APP_BUMP,
    AUTO_MERGE,
    UPDATE,
    WAITING,
    NOOP,
    NOOP_OLDER,
    SKIPPED,
    SKIPPED_BRANCH,
    BLOCKED,
)


class Simulator:
    """``scoutflow-gitops sandbox serve`` in a subprocess, and its control API."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scoutflow_gitops.cli", "sandbox", "serve", "--repo", ROOT],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        # The first line is the URL, printed once the server accepts connections.
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise SystemExit("the simulator did not start (see its stderr above)")

    def control(self, method: str, path: str, body: object = None) -> Any:
        response = http.request(method, f"{self.url}/_sandbox{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def push(self, message: str) -> str:
        files = {f"backend/app/{message.lower().replace(' ', '_')}.py": f"# {message}\n"}
        sha: str = self.control(
            "POST", "/commits", {"repo": APP_REPO, "message": message, "files": files}
        )["sha"]
        return sha

    def finish(self, sha: str, workflow: str, **fields: str) -> dict[str, Any]:
        body = {"repo": APP_REPO, "head_sha": sha, "workflow": workflow, "conclusion": "success"}
        payload: dict[str, Any] = self.control("POST", "/workflow-runs", {**body, **fields})
        return payload

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Bench:
    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.samples: dict[Scenario, list[JobResult]] = {}
        self.surprises: list[str] = []

    def job(
        self,
        payload: dict[str, Any],
        scenario: Scenario | None,
        extra_env: dict[str, str] | None = None,
    ) -> JobResult:
        """Run one job; keep it as a sample of ``scenario`` (None: run it, do not sample)."""
        job = run_job(self.simulator.url, "workflow_run", payload, extra_env=extra_env)
        if scenario is not None:
            if job.result != scenario.expect or job.exit_code != 0:
                self.surprises.append(
                    f"{scenario.name}: {job.result or 'no result'} (exit {job.exit_code}), "
                    f"expected {scenario.expect}: {job.outputs.get('reason') or job.stderr}"
                )
            self.samples.setdefault(scenario, []).append(job)
        return job

    def repeat(self, scenario: Scenario, runs: int, payload: Callable[[], dict[str, Any]]) -> None:
        for _ in range(runs):
            self.job(payload(), scenario)


def measure(sim: Simulator, runs: int) -> Bench:
    bench = Bench(sim)
    # Warm-up: the first job imports PyGithub and opens the first connections.
    seeded_head = sim.control("GET", f"/state?repo={APP_REPO}")["branches"]["main"]
    bench.job(sim.finish(seeded_head, BACKEND), None)
    shas = []
    # Each commit goes through its three CI workflows. The first deploy also creates labels,
    # so it is a scenario of its own, and runs + 1 commits give `runs` samples of the others.
    for index in range(runs + 1):
        sha = sim.push(f"Feature {index}")
        shas.append(sha)
        bench.job(sim.finish(sha, BACKEND), WAITING if index else None)
        bench.job(sim.finish(sha, FRONTEND), None)
        bench.job(sim.finish(sha, DATABASE), BUMP if index else FIRST_BUMP)
    key = _app_key()
    app_env = {"INPUT_TOKEN": "", "INPUT_APP_ID": "1", "INPUT_PRIVATE_KEY": key}
    for index in range(runs):
        sha = sim.push(f"App feature {index}")
        shas.append(sha)
        bench.job(sim.finish(sha, BACKEND), None, app_env)
        bench.job(sim.finish(sha, FRONTEND), None, app_env)
        bench.job(sim.finish(sha, DATABASE), APP_BUMP, app_env)
    gitops = "omerbh7/scoutflow-gitops"
    sim.control("POST", f"/repos/{gitops}/settings", {"require_checks": True})
    for index in range(runs):
        for scenario in (AUTO_MERGE, UPDATE):
            sha = sim.push(f"Checked feature {index} {scenario.expect}")
            shas.append(sha)
            bench.job(sim.finish(sha, BACKEND), None)
            bench.job(sim.finish(sha, FRONTEND), None)
            bench.job(sim.finish(sha, DATABASE), scenario)
        # The required check passes: GitHub merges the PR, and the next round starts afresh.
        pr_head = sim.control("GET", f"/state?repo={gitops}")["branches"][
            "scoutflow-gitops/bump-dev-stage"
        ]
        sim.control("POST", "/checks", {"repo": gitops, "sha": pr_head, "conclusion": "success"})
    sim.control("POST", f"/repos/{gitops}/settings", {"require_checks": False})
    newest, older = shas[-1], shas[-2]
    bench.repeat(NOOP, runs, lambda: sim.finish(newest, DATABASE))
    bench.repeat(NOOP_OLDER, runs, lambda: sim.finish(older, DATABASE))
    bench.repeat(SKIPPED, runs, lambda: sim.finish(newest, DATABASE, event="pull_request"))
    bench.repeat(
        SKIPPED_BRANCH, runs, lambda: sim.finish(newest, DATABASE, head_branch="feature/x")
    )
    broken = sim.push("Broken build")
    bench.repeat(BLOCKED, runs, lambda: sim.finish(broken, BACKEND, conclusion="failure"))
    return bench


def _app_key() -> str:
    """A throwaway RSA key: the simulator does not check the App's JWT signature."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def report(bench: Bench) -> bool:
    """Print the table; whether every scenario stayed within its budget."""
    header = (
        f"{'scenario':36} {'requests':>8} {'budget':>6}  {'within':6} {'CPU ms':>7} {'runs':>4}"
    )
    print(
        "Requests per event (from the simulator's log) and the bot's own CPU time per event\n"
        f"(median over the runs; simulator in a subprocess), Python {sys.version.split()[0]}\n"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for scenario in SCENARIOS:
        jobs = bench.samples.get(scenario, [])
        counts = sorted({len(job.requests) for job in jobs})
        worst = counts[-1] if counts else 0
        within = bool(jobs) and worst <= scenario.budget
        ok = ok and within
        # Every run of a scenario should send the same requests; a spread would show here.
        shown = "-" if not counts else "-".join(str(n) for n in sorted({counts[0], worst}))
        cpu = statistics.median(job.cpu_seconds for job in jobs) * 1000 if jobs else 0.0
        print(
            f"{scenario.name:36} {shown:>8} {scenario.budget:>6}  {'yes' if within else 'NO':6} "
            f"{cpu:7.1f} {len(jobs):>4}"
        )
    print(
        f"\nFor comparison, a straightforward PyGithub bump: about {len(PYGITHUB_BUMP)} requests.\n"
        "An estimate, not measured: one request per call listed below."
    )
    for method, path, call in PYGITHUB_BUMP:
        print(f"  {method:5} {path:58} {call}")
    return ok


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else 20
    simulator = Simulator()
    try:
        bench = measure(simulator, runs)
    finally:
        simulator.stop()
    within = report(bench)
    for surprise in bench.surprises:
        print(f"unexpected: {surprise}", file=sys.stderr)
    return 0 if within and not bench.surprises else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
