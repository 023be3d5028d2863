"""A command that succeeded is not turned into a failure by the settings publish that follows it.

After a command, a laptop with an extended cloud publishes its changed settings (``republish_if_changed``). A
cloud that cannot be reached then (here: GCP extended, no Google credentials on this machine) is a warning with
what to do; the command's own answer and exit code stand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_schedule_list_with_gcp_extended_and_no_google_login_still_exits_0(escher_home: Path) -> None:
    from escher.config import resolve_paths
    from escher.infra.driver import LocalState, save_outputs

    paths = resolve_paths()
    save_outputs(
        paths, "gcp", {"cloud": "gcp", "state_url": "gs://escher-state-x", "state_bucket": "escher-state-x"}
    )
    local = LocalState.load(paths)
    local.clouds["gcp"] = {"mode": "thin-client"}
    local.save()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "CLOUDSDK_"))}
    env["CLOUDSDK_CONFIG"] = str(escher_home / "no-gcloud")  # no gcloud login to find either
    result = subprocess.run(
        [sys.executable, "-m", "escher.cli.main", "schedule", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "daily" in result.stdout
    assert "not published" in result.stderr and "escher extend sync-settings" in result.stderr
    assert "Traceback" not in result.stderr
