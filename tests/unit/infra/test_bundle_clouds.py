"""The AWS bundle of a worker that scans the other clouds: their scanning SDKs in, the rest out."""

from __future__ import annotations

import re
from pathlib import Path

import googleapiclient

from escher.infra.bundle import DISCOVERY_DIR, _kept, worker_requirements

REPO = Path(__file__).resolve().parents[3]
# discovery("api", "v1") in the collectors, discovery.build("api", "v1", ...) elsewhere, discovery_client("api",
# "v1", ...) through the GCP provider (names may wrap a line)
BUILT = re.compile(r"""discovery(?:\.build|_client)?\(\s*["'](\w+)["'],\s*["'](\w+)["']""")


def test_every_discovery_document_the_code_builds_a_client_from_is_kept_and_no_other() -> None:
    sources = [*(REPO / "shared").rglob("*.py"), *(REPO / "workers").rglob("*.py")]
    built = {m.groups() for path in sources for m in BUILT.finditer(path.read_text(encoding="utf-8"))}
    assert ("sqladmin", "v1") in built and ("monitoring", "v3") in built  # the search finds them
    shipped = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
    for api, version in built:
        document = f"{api}.{version}.json"
        assert (shipped / document).is_file(), document
        assert _kept(f"{DISCOVERY_DIR}{document}"), (
            f"{document} is built in the code but trimmed from bundles"
        )
    assert not _kept(f"{DISCOVERY_DIR}youtube.v3.json") and not _kept(f"{DISCOVERY_DIR}compute.v1.json")
    assert _kept("googleapiclient/discovery.py")


def test_a_host_worker_carries_the_scanning_sdks_of_the_enabled_clouds_only() -> None:
    names = {re.split(r"[<>=\[ ]", r)[0] for r in worker_requirements("aws", REPO, ("azure", "gcp"))}
    assert {"azure-identity", "azure-mgmt-compute", "google-auth", "google-cloud-compute"} <= names
    assert not names & {"azure-keyvault-secrets", "google-cloud-pubsub", "google-cloud-secret-manager"}
    assert "cryptography" in names  # the worker verifies approval grants' signatures
    alone = {re.split(r"[<>=\[ ]", r)[0] for r in worker_requirements("aws", REPO)}
    assert not any(n.startswith(("azure-", "google-")) for n in alone)
    # a worker that scans its own cloud only gets no other cloud's SDK whatever is asked
    azure = {re.split(r"[<>=\[ ]", r)[0] for r in worker_requirements("azure", REPO, ("gcp",))}
    assert not any(n.startswith("google-") for n in azure)
