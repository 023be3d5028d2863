"""``escher demo``: the emulators, a realistic estate on moto, real-shaped events through the real workers."""

from __future__ import annotations

__all__: list[str] = []
