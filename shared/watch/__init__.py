"""``escher watch``: control-plane activity since the last watermark, through the one pipeline (issue 20).

- :mod:`escher.watch.feeds`: CloudTrail ``LookupEvents``, Azure Activity Log, GCP admin-activity audit logs;
- :mod:`escher.watch.state`: the critical-state check where no activity API answers, diffed against the last;
- :mod:`escher.watch.watermarks`: where each feed was read up to, in the state storage;
- :mod:`escher.watch.runner`: one round, or a loop every ``--interval`` seconds.

Nothing here imports a cloud SDK at import time.
"""

from __future__ import annotations

__all__: list[str] = []
