"""The entry points infra deploys are the ones the workers define: import them (worker modules may be imported
here, SDKs and all) and check the callables exist, so a rename on either side fails here, not in the cloud.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

from escher.infra.spec import WorkerEntryPoints
from tests.harness.azure_functions import indexed_functions

ENTRY = WorkerEntryPoints()


def _resolve(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_the_lambda_handler_path_is_a_callable_taking_event_and_context() -> None:
    handler = _resolve(ENTRY.aws_handler)
    assert callable(handler) and list(inspect.signature(handler).parameters) == ["event", "context"]


def test_the_azure_functions_named_in_infra_exist_with_the_right_triggers() -> None:
    pytest.importorskip("azure.functions")
    assert ENTRY.azure_script == "escher.workers.azure.function_app"
    functions = indexed_functions()
    events_fn, timer_fn = ENTRY.azure_functions
    assert events_fn in functions and timer_fn in functions, sorted(functions)
    assert functions[events_fn].get_trigger().get_binding_name() == "eventGridTrigger"
    assert functions[timer_fn].get_trigger().get_binding_name() == "timerTrigger"


def test_the_gcp_target_is_an_http_function_of_the_worker_module() -> None:
    target = getattr(importlib.import_module(ENTRY.gcp_module), ENTRY.gcp_target)
    # one HTTP function: the scheduler's {"job": ...} and Pub/Sub push envelopes both arrive as requests
    assert callable(target) and list(inspect.signature(target).parameters) == ["request"]


def test_the_bundle_shims_import_the_configured_modules() -> None:
    from escher.infra.bundle import _shims

    azure = _shims("azure", [], ENTRY.azure_script)
    assert azure["function_app.py"].startswith(f"from {ENTRY.azure_script} import app".encode())
    assert _shims("gcp", [])["main.py"].startswith(f"from {ENTRY.gcp_module} import *".encode())
