"""Failures on demand: make the next asynchronous outcome of an operation a failure.

Most of Nimble's failure states (INSUFFICIENT_CAPACITY, NETWORK_CONNECTION_ERROR, ...) come from
infrastructure greenroom does not run, so they are armed explicitly:

    POST /_greenroom/nimble/faults
    {"operation": "CreateStreamingSession", "statusCode": "INSUFFICIENT_CAPACITY",
     "statusMessage": "optional", "count": 1, "account": "000000000000", "region": "us-west-2"}

arms a failure for the next ``count`` calls of the operation in that account and Region
(``account`` defaults to the server's default account, ``region`` to us-east-1). The call
itself succeeds; its resource then ends in the operation's failure state (CREATE_FAILED,
UPDATE_FAILED, DELETE_FAILED, START_FAILED or STOP_FAILED) with that status code.
``statusCode`` must be one of the resource's status codes in the model. ``GET`` lists the armed
failures of an account and Region (query ``account``, ``region``), ``DELETE`` disarms them.
In process: ``arm_fault(mock.emulator, ...)``.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from ...core.routes import HttpError, http_route
from ...protocol.models import service_model
from .common import FAULT

# operation -> the status code enum of the resource it changes
OPERATIONS = {
    **dict.fromkeys(("CreateStudio", "UpdateStudio", "DeleteStudio", "StartStudioSSOConfigurationRepair"),
                    "StudioStatusCode"),
    **dict.fromkeys(("CreateStudioComponent", "UpdateStudioComponent", "DeleteStudioComponent"),
                    "StudioComponentStatusCode"),
    **dict.fromkeys(("CreateStreamingImage", "UpdateStreamingImage", "DeleteStreamingImage"),
                    "StreamingImageStatusCode"),
    **dict.fromkeys(("CreateLaunchProfile", "UpdateLaunchProfile", "DeleteLaunchProfile"),
                    "LaunchProfileStatusCode"),
    **dict.fromkeys(("CreateStreamingSession", "StartStreamingSession", "StopStreamingSession",
                     "DeleteStreamingSession"), "StreamingSessionStatusCode"),
    "CreateStreamingSessionStream": "StreamingSessionStreamStatusCode",
}
DEFAULT_REGION = "us-east-1"


def status_codes(operation: str) -> list[str]:
    return list(service_model("nimble").shape_for(OPERATIONS[operation]).enum)


def arm_fault(emulator, operation: str, status_code: str, *, status_message: str | None = None,
              count: int = 1, account: str | None = None, region: str = DEFAULT_REGION) -> dict:
    """Arm a failure (the Python form of ``POST /_greenroom/nimble/faults``); ValueError if the
    operation, status code or count is not valid."""
    if operation not in OPERATIONS:
        raise ValueError(f"Unknown operation {operation}; failures can be armed for {', '.join(OPERATIONS)}")
    if status_code not in status_codes(operation):
        raise ValueError(f"{status_code} is not a status code of {operation}; "
                         f"use one of {', '.join(status_codes(operation))}")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError("count must be a positive integer")
    account = account or emulator.default_account
    with emulator.context("nimble", "ArmFault", account, region) as ctx:
        fault_id = ctx.ids.uuid()
        fault = {"faultId": fault_id, "operation": operation, "statusCode": status_code,
                 "statusMessage": status_message, "remaining": count}
        ctx.resources.insert(FAULT, fault_id, fault)
    return {**fault, "account": account, "region": region}


def list_faults(emulator, account: str | None = None, region: str = DEFAULT_REGION) -> list[dict]:
    with emulator.context("nimble", "ListFaults", account or emulator.default_account, region) as ctx:
        return [fault for _, fault in ctx.resources.list(FAULT)]


def clear_faults(emulator, account: str | None = None, region: str = DEFAULT_REGION) -> int:
    with emulator.context("nimble", "ClearFaults", account or emulator.default_account, region) as ctx:
        faults = ctx.resources.list(FAULT)
        for _, fault in faults:
            ctx.resources.delete(FAULT, fault["faultId"])
        return len(faults)


def _scope(request) -> dict:
    query = {name: values[-1] for name, values in parse_qs(request.query_string).items()}
    return {"account": query.get("account"), "region": query.get("region") or DEFAULT_REGION}


@http_route("POST", "/_greenroom/nimble/faults")
def post_fault(emulator, request):
    document = request.json_object()
    unknown = set(document) - {"operation", "statusCode", "statusMessage", "count", "account", "region"}
    if unknown:
        raise HttpError(400, f"Unknown fields: {', '.join(sorted(unknown))}")
    if not document.get("operation") or not document.get("statusCode"):
        raise HttpError(400, 'Send {"operation": ..., "statusCode": ...}')
    try:
        return arm_fault(emulator, document["operation"], document["statusCode"],
                         status_message=document.get("statusMessage"), count=document.get("count", 1),
                         account=document.get("account"), region=document.get("region") or DEFAULT_REGION)
    except ValueError as problem:
        raise HttpError(400, str(problem)) from None


@http_route("GET", "/_greenroom/nimble/faults")
def get_faults(emulator, request):
    return {"faults": list_faults(emulator, **_scope(request))}


@http_route("DELETE", "/_greenroom/nimble/faults")
def delete_faults(emulator, request):
    return {"cleared": clear_faults(emulator, **_scope(request))}
