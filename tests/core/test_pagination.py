"""Pagination (greenroom.core.pagination) through boto3's ``list_streams`` and its paginator, on
the server, the mock and both stores: keyset pages, tokens bound to their query and signed
with a key the store keeps, and the model's MaxResults bounds."""
from __future__ import annotations

import base64

import pytest
from botocore.exceptions import ClientError

from core_support import UNVALIDATED, error_of, names

VALIDATION = "InvalidArgumentException"  # kinesisvideo's model has no ValidationException
BEGINS_WITH = "BEGINS_WITH"


def paginate(kv, page_size: int, **params) -> list[list[str]]:
    """The names on each page boto3's paginator fetches."""
    pages = kv.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": page_size}, **params)
    return [names(page["StreamInfoList"]) for page in pages]


def page(kv, **params) -> tuple[list[str], str | None]:
    response = kv.list_streams(**params)
    return names(response["StreamInfoList"]), response.get("NextToken")


def prefix(value: str) -> dict:
    return {"StreamNameCondition": {"ComparisonOperator": BEGINS_WITH, "ComparisonValue": value}}


def create(kv, *stream_names: str) -> None:
    for name in stream_names:
        kv.create_stream(StreamName=name)


def rejected(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as excinfo:
        call()
    return error_of(excinfo)


# ------------------------------------------------------------------------- walking pages

def test_empty_list_has_no_token(emulated):
    response = emulated.client("kinesisvideo").list_streams(MaxResults=5)
    assert response["StreamInfoList"] == [] and "NextToken" not in response


def test_paginator_walks_many_more_items_than_a_page(anywhere):
    kv = anywhere.client("kinesisvideo")
    created = [f"cam-{number:03d}" for number in range(137)]
    create(kv, *created)

    pages = paginate(kv, 10)
    assert [len(names_on_page) for names_on_page in pages] == [10] * 13 + [7]
    assert sum(pages, []) == created  # creation order: no duplicate, no gap

    # By hand with an odd page size; the last full page ends without a token.
    seen, token, requests = [], None, 0
    while True:
        names_on_page, token = page(kv, MaxResults=7, **({"NextToken": token} if token else {}))
        seen += names_on_page
        requests += 1
        if token is None:
            break
    assert seen == created and requests == 20
    assert page(kv, MaxResults=137) == (created, None)
    assert page(kv) == (created, None)  # the default page size (10000) takes them all

    # Page size may change between pages of one walk (the token is not bound to it).
    _, token = page(kv, MaxResults=100)
    assert page(kv, MaxResults=3, NextToken=token)[0] == created[100:103]


def test_paginator_with_a_name_condition(emulated):
    kv = emulated.client("kinesisvideo")
    create(kv, *[name for number in range(25) for name in (f"cam-{number:02d}", f"mic-{number:02d}")])
    pages = paginate(kv, 4, **prefix("cam-"))
    assert sum(pages, []) == [f"cam-{number:02d}" for number in range(25)]
    assert len(pages) == 7
    assert sum(paginate(kv, 4, **prefix("mic-2")), []) == [f"mic-{number}" for number in range(20, 25)]
    assert paginate(kv, 4, **prefix("nothing")) == [[]]


def test_name_condition_is_a_case_sensitive_literal_prefix(anywhere):
    """BEGINS_WITH compares characters exactly: no case folding, and ``_``/``%`` are no
    wildcards, on every store (SQLite's LIKE is case-insensitive for ASCII)."""
    kv = anywhere.client("kinesisvideo")
    create(kv, "cam_1", "camX1", "Cam_2", "CAM-3", "cam.4", "cam-5", "ca")
    assert sum(paginate(kv, 2, **prefix("cam")), []) == ["cam_1", "camX1", "cam.4", "cam-5"]
    assert sum(paginate(kv, 2, **prefix("cam_")), []) == ["cam_1"]
    assert sum(paginate(kv, 2, **prefix("Cam")), []) == ["Cam_2"]
    assert sum(paginate(kv, 2, **prefix("CAM")), []) == ["CAM-3"]
    assert sum(paginate(kv, 2, **prefix("ca")), []) == ["cam_1", "camX1", "cam.4", "cam-5", "ca"]


# ------------------------------------------------------------------------- keyset stability

def test_items_created_between_pages_are_neither_repeated_nor_skipped(anywhere):
    kv = anywhere.client("kinesisvideo")
    create(kv, *[f"s{number}" for number in range(10)])

    first, token = page(kv, MaxResults=4)
    assert first == ["s0", "s1", "s2", "s3"]
    create(kv, "new-0", "new-1")
    second, token = page(kv, MaxResults=4, NextToken=token)
    assert second == ["s4", "s5", "s6", "s7"]
    create(kv, "new-2")
    third, token = page(kv, MaxResults=4, NextToken=token)
    assert third == ["s8", "s9", "new-0", "new-1"]
    last, token = page(kv, MaxResults=4, NextToken=token)
    assert (last, token) == (["new-2"], None)


def test_deletions_between_pages_do_not_shift_pages(anywhere):
    anywhere.set_delays({"kinesisvideo.stream.delete": 0})
    kv = anywhere.client("kinesisvideo")
    arns = {f"s{number}": kv.create_stream(StreamName=f"s{number}")["StreamARN"] for number in range(10)}

    first, token = page(kv, MaxResults=4)
    assert first == ["s0", "s1", "s2", "s3"]
    # Gone: one already seen, the very item the token points after, and one not yet seen.
    for name in ("s1", "s3", "s5"):
        kv.delete_stream(StreamARN=arns[name])
    anywhere.advance(0.001)
    assert "s3" not in names(kv.list_streams()["StreamInfoList"])
    second, token = page(kv, MaxResults=4, NextToken=token)
    assert second == ["s4", "s6", "s7", "s8"]
    assert page(kv, MaxResults=4, NextToken=token) == (["s9"], None)


def test_items_created_after_the_newest_were_deleted_are_not_skipped(anywhere):
    """A store must never hand out a deleted item's sort key again: a token pointing after it
    would skip the new item (SQLite reuses the largest rowid unless AUTOINCREMENT)."""
    anywhere.set_delays({"kinesisvideo.stream.delete": 0})
    kv = anywhere.client("kinesisvideo")
    arns = {f"s{number}": kv.create_stream(StreamName=f"s{number}")["StreamARN"] for number in range(6)}
    first, token = page(kv, MaxResults=5)
    assert first == ["s0", "s1", "s2", "s3", "s4"] and token
    for name in ("s2", "s3", "s4", "s5"):  # everything from the third on, the newest included
        kv.delete_stream(StreamARN=arns[name])
    anywhere.advance(0.001)
    assert names(kv.list_streams()["StreamInfoList"]) == ["s0", "s1"]

    kv.create_stream(StreamName="after")
    assert page(kv, MaxResults=5, NextToken=token) == (["after"], None)


# ------------------------------------------------------------------------- bad tokens

def flip(token: str, position: int) -> str:
    """The token with one base64 character changed: still valid base64 of the same length."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    replacement = alphabet[(alphabet.index(token[position]) + 1) % 64]
    return token[:position] + replacement + token[position + 1:]


def test_tampered_token_is_rejected(anywhere):
    kv = anywhere.client("kinesisvideo")
    create(kv, "a", "b", "c")
    _, token = page(kv, MaxResults=1)
    assert token and len(token) <= 1024
    base64.b64decode(token, validate=True)  # the alphabet the model's pattern accepts

    tampered = {flip(token, 0), flip(token, len(token) // 2), flip(token, len(token) - 5)}
    forged_payload = base64.b64decode(token)[:16] + b'{"q":"0","p":0}'
    tampered |= {
        token[:-4],                                    # truncated (still base64)
        base64.b64encode(b"x" * 40).decode(),          # well-formed garbage
        base64.b64encode(forged_payload).decode(),     # a payload the key never signed
        "bm90IGEgdG9rZW4=",                            # "not a token"
        "abc",                                         # not base64 at all (but in the pattern)
    }
    for bad in tampered:
        assert bad != token
        code, message, status = rejected(lambda: kv.list_streams(MaxResults=1, NextToken=bad))
        assert (code, status) == (VALIDATION, 400), bad
        assert "token" in message.lower()
    # A token outside the model's pattern fails the request validation, same error code.
    code, message, status = rejected(lambda: kv.list_streams(NextToken=token + "!"))
    assert (code, status) == (VALIDATION, 400) and "NextToken" in message
    # The genuine token still works.
    assert page(kv, MaxResults=1, NextToken=token)[0] == ["b"]


def test_token_from_another_query_is_rejected(anywhere):
    def kv(key="AKIDGREENROOMTEST", region="us-east-1"):
        return anywhere.client("kinesisvideo", aws_access_key_id=key, region=region)

    for client in (kv(), kv("111111111111"), kv("222222222222"), kv("111111111111", "eu-west-1")):
        create(client, "cam-1", "cam-2", "cam-3", "dog-1")

    _, plain = page(kv(), MaxResults=1)
    _, cams = page(kv(), MaxResults=1, **prefix("cam-"))
    _, account_token = page(kv("111111111111"), MaxResults=1)
    assert plain and cams and account_token

    wrong_uses = [
        (kv(), {"NextToken": cams}),                                      # condition dropped
        (kv(), {"NextToken": plain, **prefix("cam-")}),                   # condition added
        (kv(), {"NextToken": cams, **prefix("cam")}),                     # another value
        (kv("222222222222"), {"NextToken": account_token}),               # another account
        (kv("111111111111", "eu-west-1"), {"NextToken": account_token}),  # another region
        (kv("111111111111"), {"NextToken": plain}),                       # default -> account
    ]
    for client, params in wrong_uses:
        code, message, status = rejected(lambda: client.list_streams(MaxResults=1, **params))
        assert (code, status) == (VALIDATION, 400), params
        assert "token" in message.lower()

    # The same query from another key of the same (default) account is the same query.
    assert page(kv("AKIDANOTHERKEY"), MaxResults=1, NextToken=plain)[0] == ["cam-2"]
    assert page(kv(), MaxResults=5, NextToken=cams, **prefix("cam-")) == (["cam-2", "cam-3"], None)


def test_tokens_stay_valid_across_a_server_restart(db_url, launch):
    from core_support import store_args

    first = launch(*store_args(db_url), "--log-level", "warning")
    kv = first.client("kinesisvideo")
    create(kv, *[f"s{number}" for number in range(7)])
    _, token = page(kv, MaxResults=3)
    _, filtered_token = page(kv, MaxResults=1, **prefix("s"))
    first.stop()

    second = launch(*store_args(db_url), "--log-level", "warning")
    kv = second.client("kinesisvideo")
    assert page(kv, MaxResults=3, NextToken=token)[0] == ["s3", "s4", "s5"]
    assert sum(paginate(kv, 3), []) == [f"s{number}" for number in range(7)]
    assert page(kv, MaxResults=10, NextToken=filtered_token, **prefix("s"))[0] == [f"s{number}" for number in range(1, 7)]
    # The key is the store's, not the process's: a tampered token is still refused.
    code, _, _ = rejected(lambda: kv.list_streams(NextToken=flip(token, len(token) // 2)))
    assert code == VALIDATION


# ------------------------------------------------------------------------- MaxResults

@pytest.mark.parametrize("value, bound", [(0, "greater than or equal to 1"), (-1, "greater than or equal to 1"),
                                          (10001, "less than or equal to 10000")])
def test_max_results_outside_the_model_bounds_is_rejected(emulated, value, bound):
    kv = emulated.client("kinesisvideo", config=UNVALIDATED)
    code, message, status = rejected(lambda: kv.list_streams(MaxResults=value))
    assert (code, status) == (VALIDATION, 400)
    assert f"Value '{value}' at 'MaxResults' failed to satisfy constraint: Member must have value {bound}" in message


def test_max_results_at_the_model_bounds_is_accepted(emulated):
    kv = emulated.client("kinesisvideo", config=UNVALIDATED)
    create(kv, "a", "b")
    assert page(kv, MaxResults=1)[0] == ["a"]
    assert page(kv, MaxResults=10000) == (["a", "b"], None)


def test_items_with_a_key_page_as_sort_key_pairs():
    """Paginator.page given ``key`` (fetch returning the items alone) answers the same pages and
    tokens as with (sort key, item) pairs."""
    from greenroom.core.pagination import Paginator

    paginator = Paginator(b"k" * 32)
    items = [(number, f"item {number}") for number in range(7)]

    def pairs(after, limit):
        return [(item[0], item) for item in items if after is None or item[0] > after][:limit]

    def alone(after, limit):
        return [item for item in items if after is None or item[0] > after][:limit]

    for page_size in (1, 3, 7, 8):
        tokens = [None, None]
        while True:
            by_pairs = paginator.page(query={"op": "x"}, token=tokens[0], page_size=page_size, fetch=pairs)
            by_key = paginator.page(query={"op": "x"}, token=tokens[1], page_size=page_size, fetch=alone,
                                    key=lambda item: item[0])
            assert (by_key.items, by_key.next_token) == (by_pairs.items, by_pairs.next_token)
            if by_pairs.next_token is None:
                break
            tokens = [by_pairs.next_token, by_key.next_token]
