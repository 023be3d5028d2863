"""The Azure Functions app, indexed once per test process.

``FunctionApp.get_functions()`` builds and validates the functions, and a second call on the same app fails
("does not have a unique function name"); the host calls it once at start-up, so the tests share one index.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def indexed_functions() -> dict[str, Any]:
    """Function name -> the indexed function (``.get_user_function()``, ``.get_trigger()``)."""
    from escher.workers.azure.function_app import app

    return {f.get_function_name(): f for f in app.get_functions()}
