"""The deployed shape of a worker, as close as this machine allows (no Pulumi CLI, no Lambda / Functions host):

1. the worker bundle is built by ``escher.infra.bundle`` with its dependencies taken from the packages installed
   here (:func:`escher.infra.bundle.installed_deps`: this machine's Python and platform; a deploy downloads
   manylinux wheels for CPython 3.12 instead, which takes minutes) and unpacked into a temporary directory;
   GCP's bundle carries no dependencies (Cloud Build installs ``requirements.txt``): the same installed set
   stands in for that install;
2. the worker runs from there in a clean interpreter: ``python -I -S`` (no site-packages at all, no
   ``PYTHON*`` variables), ``sys.path`` = the unpacked directory, so a module missing from the bundle fails to
   import; after the calls the boot script lists every module loaded from outside the bundle and the standard
   library (there must be none);
3. its environment is exactly what the Pulumi program declares for the function (read from the mocks), plus
   what the platform itself sets (region, credentials) and the emulator endpoints standing in for the cloud's.

Bundles and their dependency sets are cached under ``build/test-bundles`` (by content hash, as the CLI caches
under the data dir), so only the first run of a changed tree pays for zipping.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
CACHE = REPO / "build" / "test-bundles"


@dataclass(frozen=True)
class Unpacked:
    cloud: str
    root: Path  # what the platform runs from (the zip's root)
    paths: tuple[Path, ...]  # sys.path of the worker, in order
    bundle: Any = field(compare=False, default=None)


def unpacked_bundle(cloud: str, dest: Path) -> Unpacked:
    from escher.infra.bundle import build_bundle, installed_deps, worker_requirements

    reqs = worker_requirements(cloud, REPO)
    key = hashlib.sha256("\n".join([sys.version, *reqs]).encode()).hexdigest()[:16]
    deps = installed_deps(reqs, CACHE / f"deps-{cloud}-{key}")
    bundle = build_bundle(
        cloud, source_root=REPO, cache_dir=CACHE, deps_dir=None if cloud == "gcp" else deps, requirements=reqs
    )
    root = dest / cloud
    with zipfile.ZipFile(bundle.path) as zf:
        zf.extractall(root)
    if cloud == "azure":  # the Functions host puts the package's .python_packages on sys.path
        paths: tuple[Path, ...] = (root, root / ".python_packages" / "lib" / "site-packages")
    elif cloud == "gcp":  # Cloud Build's `pip install -r requirements.txt`, stood in for by the installed set
        assert (root / "requirements.txt").read_text().split() == reqs
        paths = (root, deps)
    else:
        paths = (root,)
    return Unpacked(cloud, root, paths, bundle)


BOOT = r"""
import json, sys, sysconfig
call = json.load(open(sys.argv[1]))
sys.path[:0] = call["paths"]
results = []

def record(fn):
    try:
        results.append({"ok": fn()})
    except Exception as exc:
        results.append({"error": type(exc).__name__, "message": str(exc)[:2000]})

cloud = call["cloud"]
if cloud == "aws":
    from escher.workers.aws.handler import handler

    class Context:
        function_name = call["env_name"]
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:" + call["region"] + ":123456789012:function:" + call["env_name"]
        memory_limit_in_mb = 512
        aws_request_id = "deployed-shape"
        log_group_name = "/aws/lambda/" + call["env_name"]
        log_stream_name = "deployed"

        def get_remaining_time_in_millis(self):
            return 300000

    for payload in call["payloads"]:
        record(lambda: handler(payload, Context()))
elif cloud == "gcp":
    import functions_framework

    for target, signature, payload, headers in call["payloads"]:
        app = functions_framework.create_app(target, call["root"] + "/main.py", signature)
        def post():
            reply = app.test_client().post("/", data=payload.encode(), headers=headers)
            return {"status": reply.status_code, "body": reply.get_data(as_text=True)}
        record(post)
elif cloud == "azure":
    import function_app  # the shim at the package root, as the host loads it
    import azure.functions as func
    from azure.functions.timer import TimerRequest

    functions = {f.get_function_name(): f.get_user_function() for f in function_app.app.get_functions()}
    for name, payload in call["payloads"]:
        if name == "daily_scan":
            record(lambda: functions[name](TimerRequest(past_due=False)))
        else:
            from datetime import datetime
            when = datetime.fromisoformat(payload["eventTime"].replace("Z", "+00:00"))
            event = func.EventGridEvent(id=payload["id"], data=payload["data"], topic=payload["topic"],
                                        subject=payload["subject"], event_type=payload["eventType"],
                                        event_time=when, data_version=payload["dataVersion"])
            record(lambda: functions[name](event))

stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
outside = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and not module.__file__.startswith(tuple(call["paths"]))
    and not module.__file__.startswith(stdlib)
)
import escher
json.dump({"results": results, "outside": outside, "escher": escher.__file__}, open(sys.argv[2], "w"))
"""


@dataclass
class Run:
    results: list[dict[str, Any]]
    outside: list[str]
    escher_file: str
    stdout: str
    stderr: str


def run_worker(
    unpacked: Unpacked, env: dict[str, str], payloads: list[Any], tmp: Path, *, region: str = "us-east-1"
) -> Run:
    """Every payload through the worker's real entry point, one after the other in one cold process."""
    call = {
        "cloud": unpacked.cloud,
        "paths": [str(p) for p in unpacked.paths],
        "root": str(unpacked.root),
        "payloads": payloads,
        "region": region,
        "env_name": "escher-worker",
    }
    call_file, out_file = tmp / f"call-{unpacked.cloud}.json", tmp / f"out-{unpacked.cloud}.json"
    call_file.write_text(json.dumps(call))
    out_file.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", BOOT, str(call_file), str(out_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
        check=False,
    )
    assert out_file.exists(), f"the worker process failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    out = json.loads(out_file.read_text())
    return Run(out["results"], out["outside"], out["escher"], proc.stdout, proc.stderr)
