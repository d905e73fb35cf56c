"""The GitHub App path: the bot mints an installation token scoped to the repositories it
needs, masks it before anything else, and never shows it or the key anywhere."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.harness import CI, ci_event, new_app_commit, start_job, tag_on_main
from tests.sandbox.fixtures import LiveSandbox


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_an_app_installation_token_is_minted_masked_and_used(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    key = _pem()
    sha = new_app_commit(live)
    app_env = {"INPUT_TOKEN": "", "INPUT_APP_ID": "1", "INPUT_PRIVATE_KEY": key}
    jobs = [start_job(live, tmp_path, ci_event(live, sha, name), extra_env=app_env) for name in CI]
    last = jobs[-1]
    assert [job.result for job in jobs] == ["waiting", "waiting", "merged"]
    assert tag_on_main(live, "dev") == sha

    paths = [request["path"] for request in last.requests]
    assert paths[:2] == [
        "/repos/omerbh7/scoutflow-gitops/installation",
        f"/app/installations/{live.sandbox.user('omerbh7').id}/access_tokens",
    ]
    # Scoped to the GitOps repository and the repository the workflow runs in, nothing else.
    assert last.requests[1]["body"] == {"repositories": ["scoutflow-gitops", "scoutflow-app"]}

    key_lines = [line for line in key.splitlines() if not line.startswith("-----")]
    masks = [line for line in last.stdout.splitlines() if line.startswith("::add-mask::")]
    minted = masks[-1].removeprefix("::add-mask::")
    assert minted.startswith("ghs_") and minted not in key_lines
    stdout_lines = last.stdout.splitlines()
    assert stdout_lines[: len(masks)] == masks, "masks come before any other output"
    produced = [last.stderr, last.summary, json.dumps(last.requests)]
    produced.append("\n".join(line for line in stdout_lines if not line.startswith("::add-mask::")))
    for secret in (minted, *key_lines):
        assert all(secret not in text for text in produced)
