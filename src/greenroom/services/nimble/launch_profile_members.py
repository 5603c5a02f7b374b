"""Launch profile members: PutLaunchProfileMembers, GetLaunchProfileMember,
ListLaunchProfileMembers, UpdateLaunchProfileMember, DeleteLaunchProfileMember.

Members are IAM Identity Center principals with the persona USER (the only launch profile
persona). Membership is part of the launch profile: it cannot change while the launch profile
is in an *_IN_PROGRESS state (ConflictException), nor once it is deleted. ``ListLaunchProfiles``
filters by member (``principalId``).
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.idempotency import idempotent
from ...core.operations import operation
from .common import (LAUNCH_PROFILE_MEMBER, LAUNCH_PROFILE_MEMBER_RECORD, MISSING, TOKEN_REUSED,
    USABLE_STATES, errors, insert, key, page_size, require_state, save)
from .launch_profiles import find_launch_profile
from .studio_members import unique_principals

PAGE_SIZE_LIMIT = 20  # the most a LaunchProfileMembershipList holds


def _changeable_profile(ctx: RequestContext, studio_id: str, profile_id: str) -> dict:
    profile = find_launch_profile(ctx, studio_id, profile_id)
    require_state(profile, "launch profile", profile_id, USABLE_STATES, "change the members of")
    return profile


def find_member(ctx: RequestContext, studio_id: str, profile_id: str, principal_id: str) -> dict:
    find_launch_profile(ctx, studio_id, profile_id)
    member = ctx.resources.get(LAUNCH_PROFILE_MEMBER, key(studio_id, profile_id, principal_id))
    if member is None:
        raise errors.ResourceNotFound(MISSING.format("launch profile member", principal_id), resourceId=principal_id, launchProfileId=profile_id)
    return member


@operation("nimble", "PutLaunchProfileMembers")
@idempotent("clientToken", TOKEN_REUSED)
def put_launch_profile_members(ctx: RequestContext, req: dict) -> dict:
    studio_id, profile_id = req["studioId"], req["launchProfileId"]
    _changeable_profile(ctx, studio_id, profile_id)
    unique_principals(req["members"])
    for member in req["members"]:
        member_key = key(studio_id, profile_id, member["principalId"])
        document = {"principalId": member["principalId"], "persona": member["persona"],
                    "identityStoreId": req["identityStoreId"]}
        existing = ctx.resources.get(LAUNCH_PROFILE_MEMBER, member_key)
        if existing is None:
            insert(ctx, LAUNCH_PROFILE_MEMBER, member_key, document, parent=key(studio_id, profile_id))
        else:
            save(ctx, LAUNCH_PROFILE_MEMBER, member_key, {**existing, **document})
    return {}


LAUNCH_PROFILE_MEMBER_RECORD.get_operation("nimble", "GetLaunchProfileMember", "member",
                                           lambda ctx, req: find_member(ctx, req["studioId"], req["launchProfileId"], req["principalId"]))


@operation("nimble", "ListLaunchProfileMembers", read_only=True)
def list_launch_profile_members(ctx: RequestContext, req: dict) -> dict:
    studio_id, profile_id = req["studioId"], req["launchProfileId"]
    find_launch_profile(ctx, studio_id, profile_id)
    return ctx.list_answer(LAUNCH_PROFILE_MEMBER, req, view=LAUNCH_PROFILE_MEMBER_RECORD.view,
                           page_size=page_size(req, PAGE_SIZE_LIMIT, PAGE_SIZE_LIMIT),
                           parent=key(studio_id, profile_id),
                           filters={"studioId": studio_id, "launchProfileId": profile_id})


@operation("nimble", "UpdateLaunchProfileMember")
@idempotent("clientToken", TOKEN_REUSED)
def update_launch_profile_member(ctx: RequestContext, req: dict) -> dict:
    studio_id, profile_id, principal_id = req["studioId"], req["launchProfileId"], req["principalId"]
    _changeable_profile(ctx, studio_id, profile_id)
    member = find_member(ctx, studio_id, profile_id, principal_id)
    member["persona"] = req["persona"]
    save(ctx, LAUNCH_PROFILE_MEMBER, key(studio_id, profile_id, principal_id), member)
    return {"member": LAUNCH_PROFILE_MEMBER_RECORD.view(member)}


@operation("nimble", "DeleteLaunchProfileMember")
@idempotent("clientToken", TOKEN_REUSED)
def delete_launch_profile_member(ctx: RequestContext, req: dict) -> dict:
    studio_id, profile_id, principal_id = req["studioId"], req["launchProfileId"], req["principalId"]
    _changeable_profile(ctx, studio_id, profile_id)
    find_member(ctx, studio_id, profile_id, principal_id)
    ctx.resources.delete(LAUNCH_PROFILE_MEMBER, key(studio_id, profile_id, principal_id))
    return {}
