"""Backups are streamed: archive, upload, download, verify and unpack a store of ``ESCHER_BENCH_BACKUP_MB``
(default 1024) MB and print the peak memory. ``python -m bench backup``.

The database dump is stood in for by a file of random bytes of that size (``pg_dump -Fc`` writes its file to
disk, and from there the path is the same); a thousand small files stand for approvals, alerts and the rest.
The bucket is a local directory (the S3, Blob and GCS paths stream through their SDK's file-object calls).
What is measured is Python's own peak (tracemalloc) and the process's peak RSS: both should stay a few MB
above the starting point whatever the size, where holding the archive would add its whole size.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    from escher.state import open_state
    from escher.store.backup_archive import extract, file_sha256, install, roots_of, write_archive
    from escher.store.backup_transfer import download_file, upload_file

    size_mb = int(os.environ.get("ESCHER_BENCH_BACKUP_MB", "1024"))
    with tempfile.TemporaryDirectory(prefix="escher-bench-backup-") as tmp:
        root = Path(tmp)
        data, config, anchors = root / "data", root / "config", root / "config" / "ledger"
        for i in range(1000):
            path = data / "state" / "alerts" / f"a{i}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f'{{"alert": {i}}}')
        (config / "config.toml").parent.mkdir(parents=True, exist_ok=True)
        (config / "config.toml").write_text("[aws]\n")
        dump = root / "store.dump"
        with dump.open("wb") as fh:
            for _ in range(size_mb):
                fh.write(os.urandom(1 << 20))
        bucket = open_state(f"file://{root / 'bucket'}")
        rss0 = _rss_mb()
        tracemalloc.start()
        started = time.perf_counter()
        archive = root / "backup.tar"
        with archive.open("wb") as out:
            digest, size, entries = write_archive(out, dump, roots_of(data, config, anchors))
        upload_file(bucket, "backups/x.tar", archive)
        archive.unlink()
        back = root / "back.tar"
        download_file(bucket, "backups/x.tar", back)
        assert file_sha256(back) == digest
        staging = root / "staging"
        extract(back, [e.to_dict() for e in entries], staging)
        install(staging, {"data": root / "fresh-data", "config": root / "fresh-config"})
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"backup of {size / 2**20:,.0f} MB ({len(entries)} files): archive + upload + download + verify + "
            f"unpack in {elapsed:.1f} s; Python peak {peak / 2**20:.1f} MB; "
            f"process peak RSS {_rss_mb():.0f} MB (was {rss0:.0f} MB before)"
        )


if __name__ == "__main__":
    main()
