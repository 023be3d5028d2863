"""AWS Lambda: stop, start and restart a function. The target is the function's name or ARN (in its region).

Lambda has no stopped state. What stops a function for real is a reserved concurrency of 0: every invocation is
throttled (synchronous callers get a 429 ``TooManyRequestsException``, asynchronous events are retried by
Lambda and then dropped or sent to the function's failure destination), and nothing runs. So:

- **stop** remembers the reservation the function had (a number, or ``unreserved``) in the function's tag
  ``escher:reserved-concurrency-before-stop`` (the plan's "before" carries it too, so the ledger keeps it), then
  sets the reservation to 0;
- **start** puts the remembered reservation back (or deletes the reservation when there was none), then removes
  the tag; ``reserved_concurrency`` overrides what is remembered;
- **restart** forces new execution environments: it sets the environment variable ``ESCHER_RESTARTED`` to the
  plan's key (``UpdateFunctionConfiguration``, guarded by the configuration's ``RevisionId``). Lambda retires the
  warm environments of the old configuration; nothing is published. The other variables are sent back as they
  were and never leave the function: the state and the ledger only see the marker.

Verify reads ``GetFunctionConcurrency`` and ``GetFunction`` (configuration and tags) back. The tags ride in the
state, so a function tagged ``env=production`` needs an approval under the production rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import Field

from escher.ops._common import flat_tags, missing_as_not_found
from escher.ops.model import Call, OpError, Params, Risk, Target, TargetNotFoundError, operation

if TYPE_CHECKING:
    from escher.ops.context import CloudContext

STOP_TAG = "escher:reserved-concurrency-before-stop"
UNRESERVED = "unreserved"
RESTART_VAR = "ESCHER_RESTARTED"
# ListFunctions and ListTags: to select functions by tag (GetFunction shows the tags only with ListTags too)
READ = ("lambda:GetFunction", "lambda:GetFunctionConcurrency", "lambda:ListFunctions", "lambda:ListTags")


def _lambda(call: Call) -> Any:
    return call.ctx.aws("lambda", call.target.region)


@contextmanager
def _missing_function(call: Call) -> Iterator[None]:
    """Lambda says ``ResourceNotFoundException`` (HTTP 404), which escher.clouds.aws.is_not_found does not list."""
    with missing_as_not_found(call, "Lambda function"):
        try:
            yield
        except call.ctx.sdk_errors("aws") as exc:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                raise TargetNotFoundError(
                    f"Lambda function {call.target.resource_id} was not found in {call.target.region}",
                    hint="check the name (or ARN) and region, and that these credentials can see it",
                ) from exc
            raise


def fetch_function(call: Call) -> dict[str, Any]:
    client = _lambda(call)
    with _missing_function(call):
        fn = client.get_function(FunctionName=call.target.resource_id)
        reserved = client.get_function_concurrency(FunctionName=call.target.resource_id).get(
            "ReservedConcurrentExecutions"
        )
    conf = fn["Configuration"]
    tags = dict(fn.get("Tags") or {})
    remembered = tags.pop(STOP_TAG, None)
    variables = (conf.get("Environment") or {}).get("Variables") or {}
    return {
        "function_arn": conf["FunctionArn"],
        "state": conf.get("State"),
        "last_update_status": conf.get("LastUpdateStatus"),
        "reserved_concurrency": None if reserved is None else int(reserved),
        "stopped": reserved is not None and int(reserved) == 0,
        "remembered_concurrency": remembered,
        "restart_marker": variables.get(RESTART_VAR),  # only the marker: other variables may hold secrets
        **flat_tags(tags),
    }


def discover_functions(ctx: CloudContext, region: str | None, tags: dict[str, str]) -> list[Target]:
    """Functions of the region with every tag in ``tags``. ListFunctions has no tag filter: one ListTags each."""
    client = ctx.aws("lambda", region)
    found = []
    for page in client.get_paginator("list_functions").paginate():
        for fn in page.get("Functions", []):
            have = client.list_tags(Resource=fn["FunctionArn"]).get("Tags") or {}
            if all(have.get(k) == v for k, v in tags.items()):
                found.append(Target("aws", fn["FunctionArn"], region))
    return found


def _stop(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    client = _lambda(call)
    reserved = state["reserved_concurrency"]
    remembered = UNRESERVED if reserved is None else str(reserved)
    # remembered first: if the second call fails, the function still runs and start knows nothing wrong
    client.tag_resource(Resource=state["function_arn"], Tags={STOP_TAG: remembered})
    client.put_function_concurrency(FunctionName=call.target.resource_id, ReservedConcurrentExecutions=0)
    return {"remembered_concurrency": remembered}


operation(
    id="aws.lambda.stop_function",
    description="Stop a Lambda function: reserved concurrency 0, so every invocation is throttled and nothing "
    "runs. The reservation it had is remembered (tag escher:reserved-concurrency-before-stop) for start.",
    risk=Risk.medium,
    permissions=(*READ, "lambda:TagResource", "lambda:PutFunctionConcurrency"),
    cli="aws lambda put-function-concurrency --region {region} --function-name {target} "
    "--reserved-concurrent-executions 0",
    fetch=fetch_function,
    wanted=lambda call, state: {"reserved_concurrency": 0},
    apply=_stop,
    inverse="aws.lambda.start_function",
    reversible=True,
    discover=discover_functions,
    verify_timeout=60.0,
)


class StartParams(Params):
    reserved_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="put this reservation back instead of the one remembered when it was stopped",
    )


def _restore_to(call: Call, state: dict[str, Any]) -> int | None:
    """The reservation start puts back: the parameter, else the remembered one; None: no reservation."""
    if call.params.reserved_concurrency is not None:
        return int(call.params.reserved_concurrency)
    remembered = state.get("remembered_concurrency")
    if remembered and remembered.isdigit() and int(remembered) > 0:
        return int(remembered)
    return None


def _start_wanted(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    if not state["stopped"]:
        return {"stopped": False}  # running already (by hand, or never stopped): nothing to restore
    return {"stopped": False, "reserved_concurrency": _restore_to(call, state)}


def _start(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    client = _lambda(call)
    restore = _restore_to(call, state)
    if restore is None:
        client.delete_function_concurrency(FunctionName=call.target.resource_id)
    else:
        client.put_function_concurrency(
            FunctionName=call.target.resource_id, ReservedConcurrentExecutions=restore
        )
    if state.get("remembered_concurrency") is not None:
        client.untag_resource(Resource=state["function_arn"], TagKeys=[STOP_TAG])
    return {"restored_concurrency": UNRESERVED if restore is None else restore}


operation(
    id="aws.lambda.start_function",
    description="Start a Lambda function stopped by aws.lambda.stop_function: its reserved concurrency is put "
    "back as it was (or removed when it had none).",
    risk=Risk.low,
    permissions=(
        *READ,
        "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunctionConcurrency",
        "lambda:UntagResource",
    ),
    cli="aws lambda delete-function-concurrency --region {region} --function-name {target} "
    "(or put-function-concurrency with the remembered value)",
    fetch=fetch_function,
    wanted=_start_wanted,
    apply=_start,
    params=StartParams,
    inverse="aws.lambda.stop_function",
    reversible=True,
    discover=discover_functions,
    verify_timeout=60.0,
)


def _restart(call: Call, state: dict[str, Any]) -> None:
    name = call.target.resource_id
    if state["stopped"]:
        raise OpError(
            f"Lambda function {name} is stopped (reserved concurrency 0): a restart would run nothing",
            hint="start it with aws.lambda.start_function",
        )
    if state["last_update_status"] == "InProgress" or state["state"] == "Pending":
        raise OpError(
            f"Lambda function {name} is being updated: Lambda refuses another change until it is done",
            hint="run this again in a minute",
        )
    client = _lambda(call)
    conf = client.get_function_configuration(FunctionName=name)
    environment = conf.get("Environment") or {}
    if environment.get("Error"):
        # the variables could not be decrypted for us: sending ours would erase them
        raise OpError(
            f"Lambda could not show the environment of {name}: {environment['Error'].get('Message', '')}",
            hint="grant kms:Decrypt on the function's key to the role running Escher, or restart it with "
            "aws.lambda.stop_function then aws.lambda.start_function",
        )
    variables = {**(environment.get("Variables") or {}), RESTART_VAR: call.key}
    # RevisionId: Lambda refuses the update if the configuration changed since it was read (another deploy)
    guard = {"RevisionId": conf["RevisionId"]} if conf.get("RevisionId") else {}
    client.update_function_configuration(FunctionName=name, Environment={"Variables": variables}, **guard)


operation(
    id="aws.lambda.restart_function",
    description="Restart a Lambda function: new execution environments, by setting the ESCHER_RESTARTED "
    "environment variable (the other variables are kept; nothing is published).",
    risk=Risk.medium,
    permissions=(*READ, "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionConfiguration"),
    cli="aws lambda update-function-configuration --region {region} --function-name {target} "
    "--environment Variables={{...,ESCHER_RESTARTED=<key>}}",
    fetch=fetch_function,
    wanted=lambda call, state: {"restart_marker": call.key, "last_update_status": "Successful"},
    apply=_restart,
    discover=discover_functions,
    verify_timeout=300.0,
)


# -- roll an alias back ---------------------------------------------------------------------------------------
class RollbackParams(Params):
    to_version: str | None = Field(
        default=None,
        pattern=r"^[0-9]+$",
        description="point the alias at this published version; default: the newest version below the current",
    )


def split_alias(target: str) -> tuple[str, str]:
    """``my-fn:live`` or the alias ARN (``arn:aws:lambda:REGION:ACCOUNT:function:my-fn:live``) -> (function,
    alias). The target of an alias operation names the alias, as CloudWatch's ``Resource`` dimension does."""
    parts = target.split(":")
    if target.startswith("arn:") and len(parts) == 8:
        return parts[6], parts[7]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise OpError(
        f"{target!r} does not name a Lambda alias",
        hint="give the target as FUNCTION:ALIAS (e.g. orders-api:live) or the alias ARN",
    )


def fetch_alias(call: Call) -> dict[str, Any]:
    """The version the alias serves now, its canary weights, and the version a rollback goes back to."""
    function, alias = split_alias(call.target.resource_id)
    client = _lambda(call)
    with _missing_function(call):
        found = client.get_alias(FunctionName=function, Name=alias)
        versions = [
            v["Version"]
            for page in client.get_paginator("list_versions_by_function").paginate(FunctionName=function)
            for v in page.get("Versions", [])
            if v["Version"].isdigit()
        ]
        tags = client.list_tags(Resource=found["AliasArn"].rsplit(":", 1)[0]).get("Tags") or {}
    current = found["FunctionVersion"]
    older = sorted((int(v) for v in versions if current.isdigit() and int(v) < int(current)), reverse=True)
    weights = (found.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return {
        "alias_arn": found["AliasArn"],
        "alias_version": current,
        "previous_version": str(older[0]) if older else None,
        "canary_weights": dict(weights),
        "revision_id": found.get("RevisionId"),
        **flat_tags(dict(tags)),
    }


def _rollback_to(call: Call, state: dict[str, Any]) -> str:
    wanted = call.params.to_version or state["previous_version"]
    if wanted is None:
        raise OpError(
            f"Lambda alias {call.target.resource_id} serves version {state['alias_version']}, and no "
            "earlier published version exists to go back to",
            hint="publish the last good code as a version, then run this with to_version=N",
        )
    return str(wanted)


def _rollback_wanted(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    # from the state read before: the plan's "now" keeps the version the alias served (the ledger has both)
    if call.params.to_version is None and state["previous_version"] is None:
        return {"alias_version": state["alias_version"], "canary_weights": {}}
    return {"alias_version": _rollback_to(call, state), "canary_weights": {}}


def _rollback(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    function, alias = split_alias(call.target.resource_id)
    version = _rollback_to(call, state)
    # RevisionId: Lambda refuses the update if the alias moved since it was read (a deploy in progress)
    guard = {"RevisionId": state["revision_id"]} if state.get("revision_id") else {}
    _lambda(call).update_alias(
        FunctionName=function,
        Name=alias,
        FunctionVersion=version,
        RoutingConfig={"AdditionalVersionWeights": {}},  # a canary of the bad version stops too
        **guard,
    )
    return {"rolled_back_from": state["alias_version"], "rolled_back_to": version}


operation(
    id="aws.lambda.rollback_alias",
    description="Roll a Lambda alias back to the previous published version (or to_version), ending any "
    "canary weights: the failed deployment stops serving. The version it served is kept in the plan.",
    risk=Risk.medium,
    permissions=(
        "lambda:GetAlias",
        "lambda:ListVersionsByFunction",
        "lambda:ListTags",
        "lambda:UpdateAlias",
    ),
    cli="aws lambda update-alias --region {region} --function-name <function> --name <alias> "
    "--function-version <previous version> --routing-config AdditionalVersionWeights={{}}",
    fetch=fetch_alias,
    wanted=_rollback_wanted,
    apply=_rollback,
    params=RollbackParams,
    mode="action",
    verify_timeout=60.0,
)
