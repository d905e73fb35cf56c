"""`scoutflow-gitops validate`: each rule fires on the one thing it guards, at the right line.

Every test copies the clean fixture repository (tests/fixtures/repos/good/) into a temporary
directory, breaks one thing and expects exactly the findings of the rule under test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scoutflow_gitops.cli import main
from scoutflow_gitops.validate import (
    Finding,
    RepoFiles,
    check_credentials,
    credential_in_line,
    key_parts,
    normalize_repo,
    read_lineage_history,
    read_repo,
    run_rules,
)

GOOD = Path(__file__).parent / "fixtures" / "repos" / "good"
CONFIG = ".github/scoutflow-gitops.yml"
DEV = "environments/dev/values.yaml"
STAGE = "environments/stage/values.yaml"
PROD = "environments/prod/values.yaml"
DEV_APP = "argocd/apps/scoutflow-dev.yaml"
STAGE_APP = "argocd/apps/scoutflow-stage.yaml"
PROD_APP = "argocd/apps/scoutflow-prod.yaml"
TAG = "e7c24f013e837f438f66a6e039e673f880e2cb89"
NEW_TAG = "0123456789abcdef0123456789abcdef01234567"

Row = tuple[str, int, str]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(GOOD, dest)
    return dest


def edit(repo: Path, path: str, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path`` (failing loudly if it is not there)."""
    file = repo / path
    text = file.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    file.write_text(text.replace(old, new))


def line(repo: Path, path: str, needle: str) -> int:
    """The 1-based line of the only line of ``path`` containing ``needle``."""
    lines = [
        n for n, text in enumerate((repo / path).read_text().splitlines(), 1) if needle in text
    ]
    assert len(lines) == 1, f"{needle!r} is on lines {lines} of {path}"
    return lines[0]


def findings(repo: Path, gitops_repository: str | None = None) -> list[Finding]:
    files = read_repo(repo, gitops_repository)
    return run_rules(files, read_lineage_history(repo, files))


def errors(repo: Path, gitops_repository: str | None = None) -> list[Row]:
    """(path, line, rule) of every error; warnings (LINEAGE000 outside git) are left out."""
    return [
        (f.path, f.line, f.rule) for f in findings(repo, gitops_repository) if f.severity == "error"
    ]


def messages(repo: Path, rule: str) -> list[str]:
    return [f.message for f in findings(repo) if f.rule == rule]


def test_good_fixture_is_clean(repo: Path) -> None:
    assert findings(repo) == [
        Finding(
            PROD,
            line(repo, PROD, "imageTag:"),
            "LINEAGE000",
            f"history unavailable ({repo} is not a git work tree): lineage of prod not checked; "
            "clone with the full history (actions/checkout: fetch-depth: 0)",
            "warning",
        )
    ]


# YAML001 -------------------------------------------------------------------------------------


def test_yaml_syntax_error_names_file_and_line(repo: Path) -> None:
    edit(repo, "argocd/root.yaml", "  project: default", "  project: [default")
    # The unclosed flow sequence becomes an error where the next line starts.
    assert errors(repo) == [
        ("argocd/root.yaml", line(repo, "argocd/root.yaml", "[default") + 1, "YAML001")
    ]


def test_duplicate_key_is_a_yaml_error(repo: Path) -> None:
    edit(repo, "argocd/root.yaml", "  project: default\n", "  project: default\n  project: other\n")
    assert errors(repo) == [
        ("argocd/root.yaml", line(repo, "argocd/root.yaml", "other"), "YAML001")
    ]


def test_several_documents_in_one_file_are_fine(repo: Path) -> None:
    path = repo / "argocd/projects/scoutflow.yaml"
    path.write_text(
        path.read_text() + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"
    )
    assert errors(repo) == []


def test_alias_bomb_is_refused(repo: Path) -> None:
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)
    ]
    (repo / "bomb.yaml").write_text("\n".join(bomb) + "\n")
    assert errors(repo) == [("bomb.yaml", 1, "YAML001")]
    assert "aliases expand" in messages(repo, "YAML001")[0]


def test_file_that_is_not_utf8_is_reported(repo: Path) -> None:
    (repo / "latin1.yml").write_bytes(b"name: caf\xe9\n")
    assert errors(repo) == [("latin1.yml", 1, "YAML001")]


def test_fixture_and_virtualenv_directories_are_skipped(repo: Path) -> None:
    for skipped in ("tests/fixtures/broken.yaml", ".venv/lib/broken.yaml"):
        (repo / skipped).parent.mkdir(parents=True)
        (repo / skipped).write_text("a: [\n")
    assert errors(repo) == []


# CONFIG001 -----------------------------------------------------------------------------------


def test_config_error_is_reported_at_its_line(repo: Path) -> None:
    edit(repo, CONFIG, "    merge: none", "    merge: never")
    assert errors(repo) == [(CONFIG, line(repo, CONFIG, "merge: never"), "CONFIG001")]
    assert messages(repo, "CONFIG001") == [
        "environments[2].merge: 'never' is not one of: auto, direct, none"
    ]


def test_missing_config_is_reported(repo: Path) -> None:
    (repo / CONFIG).unlink()
    assert errors(repo) == [(CONFIG, 1, "CONFIG001")]


# VALUES001 -----------------------------------------------------------------------------------


def test_unknown_top_level_key_is_caught(repo: Path) -> None:
    edit(repo, STAGE, "monitoring:\n", "monitorng:\n  enabled: true\nmonitoring:\n")
    assert errors(repo) == [(STAGE, line(repo, STAGE, "monitorng"), "VALUES001")]
    assert messages(repo, "VALUES001") == ["monitorng: unknown field 'monitorng'"]


def test_bad_memory_quantity_is_caught(repo: Path) -> None:
    edit(repo, DEV, "      memory: 256Mi", "      memory: 256MB")
    assert errors(repo) == [(DEV, line(repo, DEV, "256MB"), "VALUES001")]
    assert messages(repo, "VALUES001") == [
        "backend.resources.limits.memory: '256MB' is not "
        "a Kubernetes quantity such as 500m, 2, 256Mi or 1Gi"
    ]


@pytest.mark.parametrize("quantity", ["1", "0.5", "1.5", "250m", "2Gi", "1e3", '"2"'])
def test_valid_cpu_quantities_pass(repo: Path, quantity: str) -> None:
    edit(repo, DEV, "      cpu: 500m", f"      cpu: {quantity}")
    assert errors(repo) == []


def test_zero_replicas_are_caught(repo: Path) -> None:
    edit(repo, PROD, "  replicas: 3\n  persistence:", "  replicas: 0\n  persistence:")
    assert errors(repo) == [(PROD, line(repo, PROD, "replicas: 0"), "VALUES001")]


def test_missing_required_section_is_reported_at_the_top(repo: Path) -> None:
    edit(repo, DEV, "monitoring:\n", "unused:\n")
    assert sorted(errors(repo)) == [
        (DEV, 1, "VALUES001"),
        (DEV, line(repo, DEV, "unused:"), "VALUES001"),
    ]


def test_values_file_named_by_config_must_exist(repo: Path) -> None:
    (repo / DEV).unlink()
    assert errors(repo) == [(CONFIG, line(repo, CONFIG, f"values_file: {DEV}"), "VALUES001")]


def test_missing_values_schema_is_an_error(repo: Path) -> None:
    (repo / "schemas/values.schema.json").unlink()
    assert errors(repo) == [("schemas/values.schema.json", 1, "VALUES001")]


def test_broken_values_schema_names_its_line(repo: Path) -> None:
    (repo / "schemas/values.schema.json").write_text('{\n  "type": "object",\n}\n')
    assert errors(repo) == [("schemas/values.schema.json", 3, "VALUES001")]


def test_values_file_with_two_documents_is_refused(repo: Path) -> None:
    path = repo / DEV
    path.write_text(path.read_text() + "---\nglobal: {}\n")
    assert errors(repo) == [(DEV, 1, "VALUES001")]


# TAG001 --------------------------------------------------------------------------------------


def test_short_sha_is_refused(repo: Path) -> None:
    edit(repo, DEV, f"imageTag: {TAG}", "imageTag: e7c24f0")
    assert errors(repo) == [(DEV, line(repo, DEV, "imageTag:"), "TAG001")]
    assert messages(repo, "TAG001") == [
        "global.imageTag 'e7c24f0' is not a full 40-character lowercase commit SHA"
    ]


def test_uppercase_sha_is_refused(repo: Path) -> None:
    edit(repo, DEV, f"imageTag: {TAG}", f"imageTag: {TAG.upper()}")
    assert errors(repo) == [(DEV, line(repo, DEV, "imageTag:"), "TAG001")]


def test_unquoted_all_digit_sha_is_refused_once(repo: Path) -> None:
    digits = "1234567890" * 4
    edit(repo, DEV, f"imageTag: {TAG}", f"imageTag: {digits}")
    # One finding, from TAG001 alone: VALUES001 leaves the image tag to it.
    assert errors(repo) == [(DEV, line(repo, DEV, "imageTag:"), "TAG001")]
    assert messages(repo, "TAG001") == [
        "global.imageTag is read as int by YAML 1.1: quote it so it stays a string"
    ]


def test_quoted_all_digit_sha_is_fine(repo: Path) -> None:
    edit(repo, DEV, f"imageTag: {TAG}", f'imageTag: "{"1234567890" * 4}"')
    assert errors(repo) == []


def test_sha_that_reads_as_a_float_is_refused(repo: Path) -> None:
    # 40 characters of [0-9a-f]: YAML 1.1 (PyYAML) reads a string, YAML 1.2 and Go a float.
    sha = "1" * 20 + "e" + "2" * 19
    edit(repo, DEV, f"imageTag: {TAG}", f"imageTag: {sha}")
    assert errors(repo) == [(DEV, line(repo, DEV, "imageTag:"), "TAG001")]
    assert messages(repo, "TAG001") == [
        "global.imageTag is read as float by YAML 1.2: quote it so it stays a string"
    ]


def test_missing_image_tag_is_reported_once(repo: Path) -> None:
    edit(repo, DEV, f"  imageTag: {TAG}\n", "")
    assert errors(repo) == [(DEV, line(repo, DEV, "global:"), "TAG001")]
    assert messages(repo, "TAG001") == ["global.imageTag is missing"]


# ARGO001 -------------------------------------------------------------------------------------


def test_misspelt_argo_field_is_caught(repo: Path) -> None:
    edit(repo, "argocd/root.yaml", "    automated:", "    automatic:")
    assert errors(repo) == [
        ("argocd/root.yaml", line(repo, "argocd/root.yaml", "automatic"), "ARGO001")
    ]
    assert messages(repo, "ARGO001") == [
        "Application spec.syncPolicy.automatic: unknown field 'automatic'"
    ]


def test_appproject_is_checked_too(repo: Path) -> None:
    path = "argocd/projects/scoutflow.yaml"
    edit(
        repo, path, "  orphanedResources:\n    warn: true", "  orphanedResources:\n    warn: often"
    )
    assert errors(repo) == [(path, line(repo, path, "warn: often"), "ARGO001")]
    assert messages(repo, "ARGO001") == [
        "AppProject spec.orphanedResources.warn: 'often' is not of type 'boolean'"
    ]


def test_missing_required_argo_field_is_caught(repo: Path) -> None:
    edit(repo, "argocd/root.yaml", "  project: default\n", "")
    assert errors(repo) == [
        ("argocd/root.yaml", line(repo, "argocd/root.yaml", "spec:"), "ARGO001")
    ]


def test_argo_documents_are_found_in_multi_document_files(repo: Path) -> None:
    (repo / "extra.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\n"
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: p\n"
        "spec:\n  sourceRepos: just-one\n"
    )
    assert errors(repo) == [("extra.yaml", 11, "ARGO001")]


# SYNC001 -------------------------------------------------------------------------------------


def test_ci_environment_without_automated_sync(repo: Path) -> None:
    block = (repo / DEV_APP).read_text().split("    automated:\n", 1)[1].split("    syncOptions")[0]
    edit(repo, DEV_APP, "    automated:\n" + block, "")
    assert errors(repo) == [(DEV_APP, line(repo, DEV_APP, "syncPolicy:"), "SYNC001")]


def test_ci_environment_must_prune(repo: Path) -> None:
    edit(repo, STAGE_APP, "      prune: true", "      prune: false")
    assert errors(repo) == [(STAGE_APP, line(repo, STAGE_APP, "prune:"), "SYNC001")]


def test_ci_environment_must_self_heal(repo: Path) -> None:
    edit(repo, STAGE_APP, "      selfHeal: true  # revert manual kubectl changes\n", "")
    assert errors(repo) == [(STAGE_APP, line(repo, STAGE_APP, "automated:"), "SYNC001")]


def test_disabled_automation_does_not_count(repo: Path) -> None:
    edit(repo, DEV_APP, "    automated:\n", "    automated:\n      enabled: false\n")
    assert errors(repo) == [(DEV_APP, line(repo, DEV_APP, "enabled: false"), "SYNC001")]


def test_gated_environment_must_not_sync_automatically(repo: Path) -> None:
    edit(repo, PROD_APP, "  syncPolicy:\n", "  syncPolicy:\n    automated:\n      prune: true\n")
    assert errors(repo) == [(PROD_APP, line(repo, PROD_APP, "automated:"), "SYNC001")]


def test_gated_environment_without_validate_is_a_warning(repo: Path) -> None:
    edit(repo, PROD_APP, "      - Validate=true\n", "")
    sync = [f for f in findings(repo) if f.rule == "SYNC001"]
    assert [(f.path, f.line, f.severity) for f in sync] == [
        (PROD_APP, line(repo, PROD_APP, "syncOptions:"), "warning")
    ]
    assert errors(repo) == []


def test_ci_environment_must_name_an_application(repo: Path) -> None:
    edit(repo, CONFIG, f"    application: {DEV_APP}\n", "")
    assert errors(repo) == [(CONFIG, line(repo, CONFIG, "- name: dev"), "SYNC001")]


def test_application_file_named_by_config_must_exist(repo: Path) -> None:
    (repo / PROD_APP).unlink()
    assert errors(repo) == [(CONFIG, line(repo, CONFIG, f"application: {PROD_APP}"), "SYNC001")]


def test_application_file_must_hold_an_application(repo: Path) -> None:
    (repo / PROD_APP).write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    assert errors(repo) == [(PROD_APP, 1, "SYNC001")]


# APP001 --------------------------------------------------------------------------------------


def test_namespace_must_be_the_environment(repo: Path) -> None:
    edit(repo, PROD_APP, "    namespace: prod", "    namespace: stage")
    assert errors(repo) == [(PROD_APP, line(repo, PROD_APP, "namespace: stage"), "APP001")]
    assert messages(repo, "APP001") == ["destination namespace is 'stage', not 'prod'"]


def test_application_must_load_its_own_values(repo: Path) -> None:
    edit(repo, PROD_APP, f"$values/{PROD}", f"$values/{STAGE}")
    assert errors(repo) == [
        (PROD_APP, line(repo, PROD_APP, "  sources:"), "APP001"),
        (PROD_APP, line(repo, PROD_APP, "$values/"), "APP001"),
    ]


def test_values_ref_must_not_be_the_app_repository(repo: Path) -> None:
    edit(
        repo,
        PROD_APP,
        "    - repoURL: https://github.com/omerbh7/scoutflow-gitops",
        "    - repoURL: https://github.com/omerbh7/scoutflow-app",
    )
    where = [
        n for n, t in enumerate((repo / PROD_APP).read_text().splitlines(), 1) if "repoURL" in t
    ]
    assert errors(repo) == [(PROD_APP, where[1], "APP001")]


def test_values_ref_must_agree_with_the_other_environments(repo: Path) -> None:
    edit(
        repo,
        PROD_APP,
        "    - repoURL: https://github.com/omerbh7/scoutflow-gitops\n      targetRevision: main",
        "    - repoURL: https://github.com/someone/fork\n      targetRevision: experiment",
    )
    assert errors(repo) == [
        (PROD_APP, line(repo, PROD_APP, "someone/fork"), "APP001"),
        (PROD_APP, line(repo, PROD_APP, "experiment"), "APP001"),
    ]


def test_values_ref_is_required(repo: Path) -> None:
    edit(repo, DEV_APP, "      ref: values\n", "      path: .\n")
    assert errors(repo) == [(DEV_APP, line(repo, DEV_APP, "  sources:"), "APP001")]


def test_named_gitops_repository_is_enforced(repo: Path) -> None:
    assert errors(repo, "https://github.com/OmerBH7/scoutflow-gitops.git") == []
    expected = [
        (path, line(repo, path, "scoutflow-gitops"), "APP001")
        for path in (DEV_APP, PROD_APP, STAGE_APP)
    ]
    assert errors(repo, "someone/else") == expected


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://github.com/omerbh7/scoutflow-gitops", "omerbh7/scoutflow-gitops"),
        ("https://github.com/OmerBH7/ScoutFlow-GitOps.git/", "omerbh7/scoutflow-gitops"),
        ("git@github.com:omerbh7/scoutflow-gitops.git", "omerbh7/scoutflow-gitops"),
        ("omerbh7/scoutflow-gitops", "omerbh7/scoutflow-gitops"),
        ("cnoe://velero", "cnoe://velero"),
    ],
)
def test_normalize_repo(url: str, normal: str) -> None:
    assert normalize_repo(url) == normal


# SECRET001 -----------------------------------------------------------------------------------


def test_secret_name_must_match_the_environment(repo: Path) -> None:
    edit(repo, PROD, '"scoutflow/prod/database"', '"scoutflow/stage/database"')
    assert errors(repo) == [(PROD, line(repo, PROD, "secretName"), "SECRET001")]
    assert messages(repo, "SECRET001") == [
        "externalSecrets.secretName of prod is 'scoutflow/stage/database', "
        "not 'scoutflow/prod/database'"
    ]


# CRED001 -------------------------------------------------------------------------------------

# Built at run time so no scanner mistakes this file for a leak.
FAKE_AWS_KEY = "AKIA" + "Q" * 16
FAKE_GITHUB_TOKEN = "ghp_" + "a1B2" * 9
FAKE_PAT = "github_pat_" + "A" * 22 + "_" + "b" * 59


@pytest.mark.parametrize(
    "text",
    [
        "password: hunter2",
        "  adminPassword: 'correct horse'",
        '  db_password: "s3cr3t"',
        "# token: abcdef123456  (commented out, still in the history)",
        "- apiKey: 0123abcd",
        "api_key: 12345678",
        "client_secret: xyz",
        "  accessKey: abc",
        "  secretAccessKey: wJalrXUtnFEMI/K7MDENG",
        "privateKey: abc",
        "env: {PASSWORD: hunter2}",
        "  run: helm upgrade --set auth.password=hunter2 scoutflow",
        "          GH_TOKEN=abc123 gh pr list",
        f"aws_access_key_id: {FAKE_AWS_KEY}",
        f"  note: {FAKE_AWS_KEY}",
        "-----BEGIN RSA PRIVATE KEY-----",
        "    -----BEGIN OPENSSH PRIVATE KEY-----",
        f"  github: {FAKE_GITHUB_TOKEN}",
        f"url: https://x:{FAKE_PAT}@github.com/o/r",
    ],
)
def test_credentials_are_found(text: str) -> None:
    assert credential_in_line(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        'secretName: "scoutflow/dev/database"',
        "existingSecret: scoutflow-db",
        "existingSecretPasswordKey: password",
        "passwordKey: password",
        "secretRef: {name: db}",
        "tokenFile: /var/run/secrets/token",
        "imagePullSecrets: []",
        "tlsSecret: scoutflow-tls",
        "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
        "token: ${{ steps.app-token.outputs.token }}",
        "github-token: ${{ github.token }}",
        "private-key: ${{ secrets.APP_PRIVATE_KEY }}",
        "  id-token: write",
        "persist-credentials: false",
        "secrets: inherit",
        "password: ''",
        'token: ""',
        "password:",
        "password: null",
        "password: ~",
        "password: |",
        "password: *db_password",
        'password: "{{ .Values.db.password }}"',
        '          PASSWORD="$DB_PASSWORD" ./run',
        "          TOKEN=${GH_TOKEN} ./run",
        "password: <set-in-secrets-manager>",
        "if: secrets.TOKEN == ''",
        "# Database credentials come from AWS Secrets Manager through External Secrets.",
        "# No credential ever appears in this repository.",
        "description: The token used to open pull requests",
        "image_tag_key: global.imageTag",
    ],
)
def test_references_and_prose_are_not_credentials(text: str) -> None:
    assert credential_in_line(text) is None


def test_credential_finding_never_shows_the_secret(repo: Path) -> None:
    edit(
        repo,
        "argocd/root.yaml",
        "  project: default\n",
        "  project: default\n  # password: hunter2\n",
    )
    assert errors(repo) == [
        ("argocd/root.yaml", line(repo, "argocd/root.yaml", "hunter2"), "CRED001")
    ]
    message = messages(repo, "CRED001")[0]
    assert "hunter2" not in message
    assert message.startswith("'password' holds a literal value (7 characters, redacted)")


def test_token_finding_shows_only_the_prefix() -> None:
    files = RepoFiles({"ci.yml": f"jobs: {{}}\n# {FAKE_GITHUB_TOKEN}\n"})
    [finding] = check_credentials(files)
    assert (finding.path, finding.line, finding.rule) == ("ci.yml", 2, "CRED001")
    assert FAKE_GITHUB_TOKEN[4:12] not in finding.message
    assert "ghp_…" in finding.message


def test_only_yaml_files_are_scanned_for_credentials() -> None:
    assert check_credentials(RepoFiles({"schemas/x.json": '{"password": "hunter2"}'})) == []


# The command ---------------------------------------------------------------------------------


def test_exit_status_and_output_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--repo", str(repo)]) == 0
    edit(repo, PROD, '"scoutflow/prod/database"', '"scoutflow/dev/database"')
    assert main(["validate", "--repo", str(repo)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (
        f"{PROD}:{line(repo, PROD, 'secretName')}: SECRET001 externalSecrets.secretName of prod "
        "is 'scoutflow/dev/database', not 'scoutflow/prod/database'"
    )
    assert out[-2].startswith(f"{PROD}:{line(repo, PROD, 'imageTag')}: LINEAGE000 warning: ")


def test_github_actions_annotations(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    edit(repo, DEV, "      memory: 256Mi", "      memory: 256MB")
    assert main(["validate", "--repo", str(repo)]) == 1
    out = capsys.readouterr().out.splitlines()
    number = line(repo, DEV, "256MB")
    assert f"::error file={DEV},line={number},title=VALUES001::backend.resources" in "\n".join(out)
    assert any(x.startswith(f"::warning file={PROD},line=") for x in out)


def test_annotation_escapes_workflow_command_syntax() -> None:
    finding = Finding("a,b:c.yaml", 3, "X001", "50% done\nnext")
    assert (
        finding.annotation() == "::error file=a%2Cb%3Ac.yaml,line=3,title=X001::50%25 done%0Anext"
    )


def test_json_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--repo", str(repo), "--format", "json"]) == 0
    [warning] = json.loads(capsys.readouterr().out)
    assert warning["rule"] == "LINEAGE000"
    assert warning["severity"] == "warning"


def test_repo_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--repo", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_key_parts() -> None:
    assert key_parts("global.imageTag") == ["global", "imageTag"]
    assert key_parts("images[1].tag") == ["images", 1, "tag"]
    assert key_parts("a[0][2].b") == ["a", 0, 2, "b"]


# LINEAGE001 and the git edge -----------------------------------------------------------------


def git(repo: Path, *args: str, date: str = "2025-01-01T12:00:00Z") -> str:
    """Run git in ``repo`` with a fixed identity and date, isolated from the user's config."""
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    result = subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "-c",
            "init.defaultBranch=main",
            "-C",
            str(repo),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def commit_all(repo: Path, message: str, date: str = "2025-01-01T12:00:00Z") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD").strip()


def set_tag(repo: Path, path: str, tag: str) -> None:
    file = repo / path
    text = file.read_text()
    current = text.split("imageTag: ", 1)[1].split("\n", 1)[0]
    file.write_text(text.replace(f"imageTag: {current}", f"imageTag: {tag}"))


@pytest.fixture
def git_repo(repo: Path) -> Path:
    git(repo, "init", "-q")
    commit_all(repo, "initial: all three environments share one SHA")
    return repo


def test_initial_commit_counts_as_stage_having_run_the_tag(git_repo: Path) -> None:
    assert findings(git_repo) == []


def test_prod_tag_stage_never_had_is_refused(git_repo: Path) -> None:
    set_tag(git_repo, PROD, NEW_TAG)
    commit_all(git_repo, "prod jumps ahead")
    assert errors(git_repo) == [(PROD, line(git_repo, PROD, "imageTag:"), "LINEAGE001")]
    assert messages(git_repo, "LINEAGE001") == [
        "prod runs 0123456789ab, which was never stage's global.imageTag in the git history: "
        "promote only what stage has run"
    ]


def test_prod_tag_stage_had_earlier_passes(git_repo: Path) -> None:
    set_tag(git_repo, STAGE, NEW_TAG)
    commit_all(git_repo, "stage gets the new SHA")
    set_tag(git_repo, STAGE, "f" * 40)
    commit_all(git_repo, "stage moves on")
    set_tag(git_repo, PROD, NEW_TAG)
    commit_all(git_repo, "promote")
    assert findings(git_repo) == []


def test_tag_only_on_a_merged_side_branch_does_not_count(git_repo: Path) -> None:
    git(git_repo, "checkout", "-q", "-b", "side")
    set_tag(git_repo, STAGE, NEW_TAG)
    commit_all(git_repo, "side: stage briefly has it")
    set_tag(git_repo, STAGE, TAG)
    commit_all(git_repo, "side: and back")
    git(git_repo, "checkout", "-q", "main")
    git(git_repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    set_tag(git_repo, PROD, NEW_TAG)
    commit_all(git_repo, "promote what main's stage never ran")
    assert [rule for _, _, rule in errors(git_repo)] == ["LINEAGE001"]


def test_shallow_clone_warns_instead_of_passing(git_repo: Path, tmp_path: Path) -> None:
    set_tag(git_repo, STAGE, NEW_TAG)
    commit_all(git_repo, "stage")
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", git_repo.as_uri(), str(clone))
    [warning] = findings(clone)
    assert (warning.rule, warning.severity, warning.path) == ("LINEAGE000", "warning", PROD)
    assert warning.message.startswith("history unavailable (shallow clone): lineage of prod")


def test_untracked_files_are_checked_and_ignored_ones_are_not(git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text("scratch/\n")
    (git_repo / "scratch").mkdir()
    (git_repo / "scratch/broken.yaml").write_text("a: [\n")
    (git_repo / "new.yaml").write_text("a: [\n")
    assert errors(git_repo) == [("new.yaml", 2, "YAML001")]


def test_gitops_repository_from_option(repo: Path) -> None:
    assert main(["validate", "--repo", str(repo), "--gitops-repo", "someone/else"]) == 1
