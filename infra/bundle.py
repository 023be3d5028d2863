"""The worker bundle: escher + its dependencies, zipped reproducibly for one cloud's runtime.

Same inputs -> same bytes -> same hash: entries are sorted, every timestamp is 1980-01-01, every mode 0644,
``__pycache__`` and ``*.pyc`` are left out. Bundles are cached under ``<data dir>/bundles/<input hash>.zip``.

Layouts (what each runtime expects; each cloud's deploy description, :mod:`escher.infra.deploy`, holds its own):

- aws: everything at the zip root (Lambda adds the root to ``sys.path``); handler from the spec.
- azure: ``function_app.py`` + ``host.json`` at the root, packages under ``.python_packages/lib/site-packages``.
- gcp: ``main.py`` + ``requirements.txt`` + ``escher/``; Cloud Build installs the requirements itself, so the
  dependencies are not vendored (the source stays small).

Contents: ``escher`` (the core) + ``escher.workers`` (the package of that cloud only) + the core's dependencies
+ that cloud's SDK extra + its runtime library (powertools, azure-functions, functions-framework). No CLI, no
infra, no pulumi, no other cloud's SDK: with all three SDKs the AWS bundle measured 60.6 MB zipped / 267 MB
unzipped (over Lambda's 250 MB even via S3); trimmed, 22.0 MB / 40.9 MB (README, "Extend My Laptop").

Dependencies for linux x86_64 come from pip (``--platform manylinux2014_x86_64 --only-binary=:all:
--python-version 3.12 --target``), cached per requirement set; a prepared directory can be given instead.
:func:`installed_deps` prepares one from the packages installed in this interpreter: for the deployed-shape
tests only (same Python and platform as this machine, no download), never for a deploy.

The workers' notifications need apprise: the ``notify`` extra is part of every bundle.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from escher.infra.deploy import Limit, deploy_of, deployable
from escher.infra.program import InfraError

__all__ = [
    "LIMITS",
    "Bundle",
    "BundleError",
    "build_bundle",
    "enabled_extra_clouds",
    "installed_deps",
    "worker_requirements",
]

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
MB = 1024 * 1024
# folder in the source tree -> package path in the bundle (the workers need neither the CLI, infra nor brain)
PACKAGE_DIRS = {"shared": "escher", "workers": "escher/workers"}
DATA_SUFFIXES = {".py", ".json", ".toml", ".yaml", ".sql", ".typed"}
DISCOVERY_DIR = "googleapiclient/discovery_cache/documents/"
# the APIs escher builds discovery clients for: the GCP scan (Cloud SQL Admin, Resource Manager, Monitoring, IAM,
# Logging, Cloud Run, Cloud KMS, Cloud DNS, API Keys, BigQuery, Essential Contacts, Service Usage, Dataproc) and the
# cloud schedules (Cloud Scheduler); tests/unit/infra/test_bundle_clouds.py finds them in the code
DISCOVERY_DOCS = (
    "sqladmin.",
    "cloudresourcemanager.",
    "monitoring.",
    "iam.",
    "logging.",
    "cloudscheduler.",
    "run.",
    "cloudkms.",
    "apikeys.",
    "bigquery.",
    "essentialcontacts.",
    # only the version the scan builds: these APIs' betas and v2 documents stay out (~600 KB)
    "dns.v1.",
    "serviceusage.v1.",
    "dataproc.v1.",
)


class BundleError(InfraError):
    """The worker bundle cannot be built or does not fit the platform."""


# what each cloud's runtime takes (its deploy description's bundle layout)
LIMITS = {cloud: deploy_of(cloud).bundle.limit for cloud in deployable()}


@dataclass(frozen=True)
class Bundle:
    cloud: str
    path: Path
    sha256: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    cached: bool
    limit: Limit


def worker_requirements(cloud: str, source_root: Path, extra_clouds: Sequence[str] = ()) -> list[str]:
    """The core dependencies, this cloud's SDK extra and its runtime library; for a worker that scans other
    clouds too (:data:`escher.extend.cloud_credentials.HOSTS`), the scanning part of each ``extra_clouds``' SDK
    (its deploy description's ``bundle.scan_packages``: not Key Vault, Pub/Sub or Secret Manager, which are that
    cloud's own extension's stores); nothing else of the other clouds."""
    from escher.extend.cloud_credentials import HOSTS

    project = tomllib.loads((source_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    reqs = list(project["dependencies"])
    reqs.extend(extras.get(cloud, []))
    reqs.extend(extras.get("notify", []))  # alerts and the daily digest go out through apprise
    reqs.extend(r for r in extras.get("workers", []) if r.startswith(deploy_of(cloud).bundle.runtime))
    if cloud in HOSTS:
        for other in sorted(set(extra_clouds) - {cloud}):
            scan = deploy_of(other).bundle.scan_packages
            reqs.extend(r for r in extras.get(other, []) if scan and r.startswith(scan))
    # the worker checks approvers' signatures against their pinned keys (escher.pipeline.granted)
    reqs.extend(r for r in extras.get("store", []) if r.startswith("cryptography"))
    return sorted(set(reqs))


def enabled_extra_clouds(cloud: str) -> tuple[str, ...]:
    """The other clouds enabled in the settings, whose SDKs a host worker carries (what ``ExtensionSpec``'s
    ``credential_names`` holds for the same settings)."""
    from escher.config import load_settings
    from escher.extend.cloud_credentials import EXTRA_CLOUDS, HOSTS

    if cloud not in HOSTS:
        return ()
    settings = load_settings()
    return tuple(c for c in EXTRA_CLOUDS if c != cloud and getattr(settings, c).enabled)


def _walk(base: Path) -> Iterator[Path]:
    for path in sorted(base.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def _escher_files(source_root: Path, cloud: str) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for folder, package in PACKAGE_DIRS.items():
        base = source_root / folder
        if not base.is_dir():
            raise BundleError(
                f"{base} is missing: not an escher source tree", hint="pass the repository root"
            )
        for path in _walk(base):
            rel = path.relative_to(base)
            if folder == "workers" and len(rel.parts) > 1 and rel.parts[0] != cloud:
                continue  # another cloud's worker (the Azure one imports azure.functions at import)
            if path.suffix in DATA_SUFFIXES and not any(p.startswith(".") for p in rel.parts):
                files[f"{package}/{rel.as_posix()}"] = path
    return files


def _shims(
    cloud: str, requirements: list[str], azure_script: str = "escher.workers.azure.function_app"
) -> dict[str, bytes]:
    """The files at the zip root the cloud's runtime loads (``azure_script``: the Azure function app module)."""
    from escher.infra.spec import WorkerEntryPoints

    return deploy_of(cloud).bundle.shims(requirements, WorkerEntryPoints(azure_script=azure_script))


def pip_install(requirements: list[str], target: Path) -> None:
    """Dependencies for linux x86_64 / CPython 3.12, wheels only, into ``target``."""
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
        "--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.12",
        "--only-binary=:all:", "--target", str(tmp), *requirements,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BundleError(
            f"pip could not fetch the worker's dependencies: {result.stderr.strip()[-800:]}",
            hint="check the network or an index (PIP_INDEX_URL); every dependency needs a manylinux wheel",
        )
    tmp.replace(target)


def installed_deps(requirements: list[str], dest: Path) -> Path:
    """``requirements`` and everything they require, copied (hard-linked where possible) from the packages
    installed in this interpreter into ``dest``: the deployed-shape tests' offline stand-in for
    :func:`pip_install` (this machine's Python and platform, not Lambda's). Reused when ``dest`` exists."""
    import importlib.metadata as metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    if dest.is_dir():
        return dest
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.partial")  # two test processes may build it at once
    shutil.rmtree(tmp, ignore_errors=True)
    seen: set[str] = set()
    queue = [(Requirement(r), {""}) for r in requirements]
    while queue:
        req, extras = queue.pop()
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras):
            continue
        name = canonicalize_name(req.name)
        if name in seen or name == "escher":
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise BundleError(
                f"{req.name} is not installed here: the offline bundle takes installed packages only",
                hint=f"pip install '{req}' into this environment",
            ) from None
        for file in dist.files or ():
            rel = Path(str(file))
            if rel.parts[0] == ".." or "__pycache__" in rel.parts or rel.suffix == ".pyc":
                continue
            source = Path(str(file.locate()))
            if not source.is_file():
                continue
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
        wanted = {"", *req.extras}
        queue.extend((Requirement(r), wanted) for r in dist.requires or ())
    try:
        tmp.replace(dest)
    except OSError:  # another process finished the same copy first: keep theirs
        if not dest.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _kept(rel: str) -> bool:
    """google-api-python-client ships ~110 MB of discovery documents for every Google API; a worker builds
    clients for the APIs in :data:`DISCOVERY_DOCS` only (without the trim, the AWS bundle that scans Azure and
    GCP measured 284 MB unzipped, over Lambda's 250 MB)."""
    if not rel.startswith(DISCOVERY_DIR) or not rel.endswith(".json"):
        return True
    return rel[len(DISCOVERY_DIR) :].startswith(DISCOVERY_DOCS)


def _digest(entries: dict[str, bytes | Path]) -> str:
    h = hashlib.sha256()
    for name in sorted(entries):
        value = entries[name]
        data = value.read_bytes() if isinstance(value, Path) else value
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def write_zip(entries: dict[str, bytes | Path], dest: Path) -> None:
    """Write ``entries`` reproducibly: sorted, fixed time and mode, deflated."""
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.partial")  # a name of this process's own
    with zipfile.ZipFile(tmp, "w") as zf:
        for name in sorted(entries):
            value = entries[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, whatever the building machine
            zf.writestr(info, value.read_bytes() if isinstance(value, Path) else value, compresslevel=9)
    os.replace(tmp, dest)


def build_bundle(
    cloud: str,
    *,
    source_root: Path,
    cache_dir: Path,
    deps_dir: Path | None = None,
    requirements: list[str] | None = None,
    extra_clouds: Sequence[str] | None = None,
) -> Bundle:
    """Build (or reuse) the worker zip for ``cloud``; raise :class:`BundleError` if it does not fit.

    ``extra_clouds``: the other clouds a host worker scans (default: those enabled in the settings).
    """
    if cloud not in LIMITS:
        raise BundleError(f"unknown cloud {cloud!r}", hint=f"use one of {', '.join(LIMITS)}")
    layout = deploy_of(cloud).bundle
    if requirements is not None:
        reqs = requirements
    else:
        others = enabled_extra_clouds(cloud) if extra_clouds is None else tuple(extra_clouds)
        reqs = worker_requirements(cloud, source_root, others)
    site = layout.site
    entries: dict[str, bytes | Path] = {f"{site}{k}": v for k, v in _escher_files(source_root, cloud).items()}
    entries.update(_shims(cloud, reqs))
    if layout.vendored:  # else the platform installs requirements.txt (GCP: Cloud Build)
        if deps_dir is None:
            key = hashlib.sha256("\n".join(["cp312-manylinux2014_x86_64", *reqs]).encode()).hexdigest()[:16]
            deps_dir = cache_dir / f"deps-{key}"
            if not deps_dir.is_dir():
                cache_dir.mkdir(parents=True, exist_ok=True)
                pip_install(reqs, deps_dir)
        for path in _walk(deps_dir):
            rel = path.relative_to(deps_dir).as_posix()
            if not rel.startswith(("bin/", "escher/")) and _kept(rel):
                entries.setdefault(f"{site}{rel}", path)
    key = _digest(entries)
    dest = cache_dir / f"{cloud}-{key[:24]}.zip"
    cached = dest.exists()
    if not cached:
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_zip(entries, dest)
    with zipfile.ZipFile(dest) as zf:
        unzipped = sum(i.file_size for i in zf.infolist())
        count = len(zf.infolist())
    data = dest.read_bytes()
    bundle = Bundle(
        cloud, dest, hashlib.sha256(data).hexdigest(), len(data), unzipped, count, cached, LIMITS[cloud]
    )
    check_limits(bundle)
    return bundle


def check_limits(bundle: Bundle) -> None:
    limit = bundle.limit
    zipped_mb, unzipped_mb = bundle.zipped_bytes / MB, bundle.unzipped_bytes / MB
    if limit.zipped_mb is not None and zipped_mb > limit.zipped_mb:
        raise BundleError(
            f"the {bundle.cloud} worker bundle is {zipped_mb:.1f} MB zipped; the limit is {limit.zipped_mb} MB",
            hint=f"{limit.rule}. Enable fewer operations' SDKs, or upload through a bucket",
        )
    if unzipped_mb > limit.unzipped_mb:
        raise BundleError(
            f"the {bundle.cloud} worker bundle is {unzipped_mb:.1f} MB unzipped; the limit is {limit.unzipped_mb} MB",
            hint=f"{limit.rule}. Trim the dependencies",
        )
