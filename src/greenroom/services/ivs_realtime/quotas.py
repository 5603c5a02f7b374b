"""Service quotas, enforced with ServiceQuotaExceededException (or a QUOTA_EXCEEDED participant
event), per account and region like AWS's.

Defaults are ``DEFAULT_QUOTAS`` (from the IVS Real-Time quota table). Override them per account
and region, as an account with a raised quota would have:

    POST /_greenroom/ivs-realtime/quotas
         {"account": "123456789012", "region": "us-east-1", "quotas": {"stages": 3}}
    GET  /_greenroom/ivs-realtime/quotas?account=123456789012&region=us-east-1

(account and region default to the server's default account and us-east-1; ``null`` restores a
default). In Python: ``set_quotas(emulator, account, region, stages=3)``. Overrides are state:
``POST /_greenroom/reset`` forgets them.
"""
from __future__ import annotations

from ...core.routes import HttpError, http_route
from .common import QUOTA_OVERRIDES, SERVICE

DEFAULT_QUOTAS: dict[str, int] = {
    "stages": 100,                    # stages per account and region
    "publishers_per_stage": 12,       # participants publishing at once in a stage
    "subscribers_per_stage": 10_000,  # participants subscribing at once in a stage
    "compositions": 5,                # concurrent (not STOPPED/FAILED) compositions
    "encoder_configurations": 20,
    "public_keys": 100,               # [inferred] the quota table names none; a plausible bound
    "publish_subscribe_hours": 24,    # how long one publish or subscription may last
    "composition_hours": 24,          # how long a composition may run
}

_OVERRIDES_ID = "overrides"


def effective(resources) -> dict[str, int]:
    overrides = resources.get(QUOTA_OVERRIDES, _OVERRIDES_ID) or {}
    return {**DEFAULT_QUOTAS, **overrides}


def quota(resources, name: str) -> int:
    return effective(resources)[name]


def _apply(resources, changes: dict) -> dict[str, int]:
    unknown = sorted(set(changes) - set(DEFAULT_QUOTAS))
    if unknown:
        raise HttpError(400, f"Unknown quota {', '.join(unknown)}; known: {', '.join(DEFAULT_QUOTAS)}")
    overrides = dict(resources.get(QUOTA_OVERRIDES, _OVERRIDES_ID) or {})
    for name, value in changes.items():
        if value is None:
            overrides.pop(name, None)
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise HttpError(400, f"Quota {name} must be a non-negative integer, not {value!r}")
        else:
            overrides[name] = value
    if resources.get(QUOTA_OVERRIDES, _OVERRIDES_ID) is None:
        resources.insert(QUOTA_OVERRIDES, _OVERRIDES_ID, overrides)
    else:
        resources.update(QUOTA_OVERRIDES, _OVERRIDES_ID, overrides)
    return effective(resources)


def set_quotas(emulator, account: str, region: str, **changes) -> dict[str, int]:
    """Override quotas for one account and region; returns the quotas now in force."""
    with emulator.context(SERVICE, "SetQuotas", account, region) as ctx:
        return _apply(ctx.resources, changes)


def _scope(emulator, values: dict) -> tuple[str, str]:
    account = values.get("account") or emulator.default_account
    region = values.get("region") or "us-east-1"
    if not (isinstance(account, str) and len(account) == 12 and account.isdigit()):
        raise HttpError(400, f"account must be a 12-digit account id, not {account!r}")
    return account, str(region)


@http_route("GET", "/_greenroom/ivs-realtime/quotas")
def read_quotas(emulator, request):
    account, region = _scope(emulator, {k: v[-1] for k, v in request.query().items()})
    with emulator.context(SERVICE, "GetQuotas", account, region) as ctx:
        return {"account": account, "region": region, "quotas": effective(ctx.resources)}


@http_route("POST", "/_greenroom/ivs-realtime/quotas")
def change_quotas(emulator, request):
    document = request.json_object()
    account, region = _scope(emulator, document)
    changes = document.get("quotas")
    if not isinstance(changes, dict):
        raise HttpError(400, 'Send {"account": ..., "region": ..., "quotas": {"<name>": <value>}}')
    return {"account": account, "region": region, "quotas": set_quotas(emulator, account, region, **changes)}
