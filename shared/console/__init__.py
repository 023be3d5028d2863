"""The Escher Console: ``escher console``'s local web app (Starlette + Jinja2, htmx for interaction).

The pages call the same core functions as the CLI (the report service, the operations engine behind the one
policy gate, the approvals, the alert store, the assistant, the ledger); nothing here decides policy. Starlette,
Jinja2 and uvicorn (the ``console`` extra) are imported only when the app is built, so importing this package
costs nothing.
"""

from __future__ import annotations

__all__: list[str] = []
