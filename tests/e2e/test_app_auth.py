"""The GitHub App path: the bot mints least-privilege installation tokens (a writer for the
GitOps repository at once, a reader for both repositories once the config names the source),
masks each before anything uses it, and never shows them or the key anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scoutflow_gitops.github import READER_PERMISSIONS, WRITER_PERMISSIONS
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
    tokens_path = paths[1]
    assert re.fullmatch(r"/app/installations/\d+/access_tokens", tokens_path)
    # The writer at once; the state read; the reader once the config has named the source;
    # one installation (one account) for both, looked up once.
    assert paths[:4] == [
        "/repos/omerbh7/scoutflow-gitops/installation",
        tokens_path,
        "/graphql",
        tokens_path,
    ]
    assert paths.count(tokens_path) == 2
    assert paths.count("/repos/omerbh7/scoutflow-gitops/installation") == 1
    assert last.requests[1]["body"] == {
        "repositories": ["scoutflow-gitops"],
        "permissions": dict(WRITER_PERMISSIONS),
    }
    assert last.requests[3]["body"] == {
        "repositories": ["scoutflow-gitops", "scoutflow-app"],
        "permissions": dict(READER_PERMISSIONS),
    }

    key_lines = [line for line in key.splitlines() if not line.startswith("-----")]
    masks = [line for line in last.stdout.splitlines() if line.startswith("::add-mask::")]
    minted = [mask.removeprefix("::add-mask::") for mask in masks[-2:]]
    assert all(token.startswith("ghs_") and token not in key_lines for token in minted)
    assert minted[0] != minted[1]
    stdout_lines = last.stdout.splitlines()
    assert stdout_lines[: len(masks)] == masks, "masks come before any other output"
    produced = [last.stderr, last.summary, json.dumps(last.requests)]
    produced.append("\n".join(line for line in stdout_lines if not line.startswith("::add-mask::")))
    for secret in (*minted, *key_lines):
        assert all(secret not in text for text in produced)
