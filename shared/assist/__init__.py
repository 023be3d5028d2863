"""The conversational client of the brain: context from the client's store, privacy on the way out, plans
validated on the way back and run through the ops engine (``escher ask`` / ``escher chat``).

    from escher.assist.client import Assistant, HttpBrain
    from escher.assist.sources import EstateSource, MemorySource

Importing this package imports no cloud SDK, no anthropic, no starlette.
"""

from __future__ import annotations

__all__: list[str] = []
