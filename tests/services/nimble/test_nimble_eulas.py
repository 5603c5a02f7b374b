"""Nimble Studio EULAs: the built-in catalogue, acceptances, and what needs them."""
from __future__ import annotations

import re

from nimble_support import (ACCOUNT, built_in_image, error_of, nimble, ready_launch_profile,
                            ready_studio)  # noqa: F401


def test_catalogue(nimble):
    nb = nimble.client()
    eulas = nb.list_eulas()["eulas"]
    assert len(eulas) == 9
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", e["eulaId"]) and e["content"].startswith("https://")
               for e in eulas)
    names = {e["name"] for e in eulas}
    assert {"Mozilla-FireFox", "Thinkbox-Deadline", "SideFX-Houdini", "BlenderFoundation-Blender"} <= names
    firefox = nb.get_eula(eulaId="gJZLygd-Srq_5NNbSfiaLg")["eula"]
    assert firefox["name"] == "Mozilla-FireFox" and firefox["createdAt"].year == 2021
    chosen = nb.list_eulas(eulaIds=["gJZLygd-Srq_5NNbSfiaLg", "uu2VDLo-QJeIGWWLBae_UA", "unknown"])["eulas"]
    assert [e["name"] for e in chosen] == ["Mozilla-FireFox", "SideFX-Houdini"]
    problem = error_of(nb.get_eula, eulaId="doesnotexist")
    assert problem["status"] == 404 and problem["context"] == {"resourceId": "doesnotexist"}


def test_accept_and_list_acceptances(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    eula_ids = built_in_image(nb, studio_id)["eulaIds"]
    accepted = nb.accept_eulas(studioId=studio_id, eulaIds=eula_ids[:2])["eulaAcceptances"]
    assert [a["eulaId"] for a in accepted] == eula_ids[:2]
    assert all(a["accepteeId"] == studio_id and a["acceptedBy"] == ACCOUNT and len(a["eulaAcceptanceId"]) == 22
               for a in accepted)
    again = nb.accept_eulas(studioId=studio_id, eulaIds=eula_ids)["eulaAcceptances"]
    assert again[:2] == accepted  # accepting again does not record a second acceptance
    listed = nb.list_eula_acceptances(studioId=studio_id)["eulaAcceptances"]
    assert [a["eulaId"] for a in listed] == eula_ids
    only = nb.list_eula_acceptances(studioId=studio_id, eulaIds=[eula_ids[3]])["eulaAcceptances"]
    assert [a["eulaId"] for a in only] == [eula_ids[3]]
    assert error_of(nb.accept_eulas, studioId=studio_id, eulaIds=["nope"])["Code"] == "ResourceNotFoundException"
    assert error_of(nb.accept_eulas, studioId=studio_id, eulaIds=[])["Code"] == "ValidationException"


def test_sessions_need_the_images_eulas(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, image_id = ready_launch_profile(nimble, studio_id, accept=False)
    eula_ids = nb.get_streaming_image(studioId=studio_id, streamingImageId=image_id)["streamingImage"]["eulaIds"]
    nb.accept_eulas(studioId=studio_id, eulaIds=eula_ids[:3])
    problem = error_of(nb.create_streaming_session, studioId=studio_id, launchProfileId=profile_id)
    assert problem["Code"] == "ValidationException" and problem["code"] == "EULA_NOT_ACCEPTED"
    assert all(eula in problem["message"] for eula in eula_ids[3:])
    nb.accept_eulas(studioId=studio_id, eulaIds=eula_ids[3:])
    assert nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id)["session"]["state"] == \
        "CREATE_IN_PROGRESS"
