"""Importing the core, the CLI or a worker loads no cloud SDK, pulumi or anthropic (they are imported lazily)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.unit.test_packaging import REPO, ROOTS

FORBIDDEN = (
    "boto3",
    "botocore",
    "azure",
    "google",
    "pulumi",
    "pulumi_aws",
    "pulumi_gcp",
    "pulumi_azure_native",
    "anthropic",
    "moto",
    "psycopg",
    "pgserver",
    "aws_lambda_powertools",
    "functions_framework",
    "apprise",
    "mcp",
    "mcp_types",
)

# Modules whose whole purpose is to be the program that runs under Pulumi (imported only by the Pulumi CLI),
# and runtime entry files a platform imports by path: the Azure Functions host needs ``app`` (built with
# azure.functions) at import; all the logic it binds is in escher.workers.azure.handlers, which is checked.
ALLOWED_HEAVY = {"escher.infra.__main__", "escher.cli.__main__", "escher.workers.azure.function_app"}


def all_modules() -> list[str]:
    names = []
    for root, folder in ROOTS.items():
        base = REPO / folder
        for py in sorted(base.rglob("*.py")):
            rel = py.relative_to(base).with_suffix("")
            if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            names.append(".".join([root, *parts]))
    return [n for n in names if n not in ALLOWED_HEAVY]


def loaded_after_import(modules: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        # .pth files of namespace packages (google-*) put bare namespaces in sys.modules at start-up
        "before = set(sys.modules)\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(k for k in set(sys.modules) - before if k.split('.')[0] in {FORBIDDEN!r})\n"
        "print(json.dumps(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    result: list[str] = json.loads(out.stdout)
    return result


def test_no_heavy_import_from_any_escher_module() -> None:
    modules = all_modules()
    assert "escher.cli.main" in modules and "escher" in modules
    assert loaded_after_import(modules) == []


def test_the_check_itself_catches_a_heavy_import() -> None:
    # a module that does import boto3 at import time must be reported (the test above can fail)
    assert "boto3" in loaded_after_import(["escher", "boto3"])
