# The promotion bot as a GitHub container action (see action.yml).
# GitHub's rules for container actions: no USER (the runner mounts the workspace as root) and no
# WORKDIR (the runner sets it). Python 3.11, the version the test suite runs, pinned by digest;
# update the digest deliberately (docker buildx imagetools inspect python:3.11-slim-bookworm).
FROM python:3.11-slim-bookworm@sha256:b18992999dbe963a45a8a4da40ac2b1975be1a776d939d098c647482bcad5cba AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

COPY pyproject.toml constraints.txt README.md /src/
COPY src /src/src
# Runtime dependencies only, at the exact versions the tests ran with.
RUN python -m venv /opt/scoutflow \
    && /opt/scoutflow/bin/pip install --no-cache-dir -c /src/constraints.txt /src

FROM python:3.11-slim-bookworm@sha256:b18992999dbe963a45a8a4da40ac2b1975be1a776d939d098c647482bcad5cba

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/scoutflow/bin:$PATH

# Only the installed environment crosses over: no sources, no pip cache, no build tools.
COPY --from=build /opt/scoutflow /opt/scoutflow

ENTRYPOINT ["/opt/scoutflow/bin/scoutflow-gitops", "run"]
