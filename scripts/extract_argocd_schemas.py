"""Extract the Argo CD CRDs' v1alpha1 ``openAPIV3Schema`` into the JSON files the package ships.

The CRD manifests are 400 KB of YAML, mostly their printer columns, descriptions and the
``status`` schema, none of which ``scoutflow-gitops validate`` uses. This keeps the schema itself
(descriptions dropped, ``status`` kept so the schema stays Argo CD's own) as compact JSON.

    python scripts/extract_argocd_schemas.py CRD_DIR [OUT_DIR]

CRD_DIR holds ``application-crd.yaml`` and ``appproject-crd.yaml`` from argoproj/argo-cd
``manifests/crds/``; OUT_DIR defaults to ``src/scoutflow_gitops/schemas/argocd``. Record the
Argo CD version in that directory's README.md when you regenerate.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

OUTPUTS = {
    "application-crd.yaml": "application.schema.json",
    "appproject-crd.yaml": "appproject.schema.json",
}
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src/scoutflow_gitops/schemas/argocd"
VERSION = "v1alpha1"


def extract(crd: Any, source: str) -> dict[str, Any]:
    for version in crd["spec"]["versions"]:
        if version["name"] == VERSION:
            schema: dict[str, Any] = _strip(version["schema"]["openAPIV3Schema"])
            return schema
    raise SystemExit(f"{source}: no {VERSION} version in the CRD")


def _strip(node: Any) -> Any:
    """A plain copy without ``description``: prose is 70% of the bytes and never validated."""
    if isinstance(node, dict):
        return {
            str(key): _strip(value)
            for key, value in node.items()
            # Under "properties" a key is a field name, and a field may be called "description".
            if key != "description" or not isinstance(value, str)
        }
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crd_dir", type=Path)
    parser.add_argument("out_dir", type=Path, nargs="?", default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    yaml = YAML(typ="safe", pure=True)
    for crd_name, out_name in OUTPUTS.items():
        source = args.crd_dir / crd_name
        schema = extract(yaml.load(source.read_text(encoding="utf-8")), str(source))
        text = json.dumps(schema, separators=(",", ":"), sort_keys=True) + "\n"
        (args.out_dir / out_name).write_text(text, encoding="utf-8")
        print(f"{source} -> {args.out_dir / out_name} ({len(text) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
