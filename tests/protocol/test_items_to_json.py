"""restjson.items_to_json (the compiled fast path for long lists of structures) writes what the
generic serializer writes for the same items given as mappings, byte for byte."""
from __future__ import annotations

import random

from greenroom.protocol import models, restjson

FRAGMENTS = models.operation_model("kinesis-video-archived-media", "ListFragments").output_shape.members["Fragments"]
MEMBERS = ("FragmentNumber", "FragmentSizeInBytes", "ProducerTimestamp", "ServerTimestamp",
           "FragmentLengthInMilliseconds")
TIMESTAMPS = ("ProducerTimestamp", "ServerTimestamp")


def _generic(rows: list[tuple]) -> list:
    """The same rows as the mappings a handler returns (timestamps in epoch seconds, absent
    members left out), through the generic serializer."""
    items = [{name: value / 1000 if name in TIMESTAMPS else value
              for name, value in zip(MEMBERS, row) if value is not None} for row in rows]
    return restjson._to_json(items, FRAGMENTS)


def test_items_are_the_generic_serializers():
    chooser = random.Random(19)
    stamps = ([chooser.randrange(0, 2**45) for _ in range(5000)]                   # up to year 3084
              + [chooser.randrange(1_600_000_000_000, 1_900_000_000_000) for _ in range(5000)]
              + [chooser.randrange(0, 2**34) * 1000 for _ in range(500)]          # whole seconds
              + [2**33 * 1000 + delta for delta in range(-1001, 1001)]           # around the exact range's end
              + [0, 1, 999, 1000, 1001, 1_700_000_000_005, -1, -1000, -1500])
    rows = []
    for stamp in stamps:
        other = chooser.choice(stamps)
        rows.append((f"{chooser.randrange(10**46):047d}", chooser.randrange(0, 2**40), stamp, other,
                     chooser.randrange(0, 10**6)))
    # Absent members (None) anywhere in a row.
    rows += [tuple(None if index in gone else value for index, value in enumerate(row))
             for row in rows[:200] for gone in [{chooser.randrange(5)}, {1, 3}]]
    convert = restjson.items_to_json(FRAGMENTS, MEMBERS)
    answered = convert(rows)
    assert type(answered) is restjson.JsonItems
    expected = _generic(rows)
    assert answered == expected
    assert [[type(value) for value in item.values()] for item in answered] == \
        [[type(value) for value in item.values()] for item in expected]
    assert restjson.dump_json(answered) == restjson.dump_json(expected)


def test_members_in_another_order_and_left_out():
    convert = restjson.items_to_json(FRAGMENTS, ("ServerTimestamp", "FragmentNumber"))
    assert convert([(1_700_000_000_500, "n")]) == [{"FragmentNumber": "n", "ServerTimestamp": 1700000000.5}]


def test_the_serializer_keeps_items_already_converted():
    convert = restjson.items_to_json(FRAGMENTS, MEMBERS)
    rows = [("1" * 47, 10, 1_700_000_000_250, 1_700_000_000_000, 500)]
    operation = models.operation_model("kinesis-video-archived-media", "ListFragments")
    fast = restjson.serialize_output(operation, {"Fragments": convert(rows), "NextToken": "abc"})
    generic = restjson.serialize_output(operation, {"Fragments": [
        {"FragmentNumber": "1" * 47, "FragmentSizeInBytes": 10, "ProducerTimestamp": 1_700_000_000.25,
         "ServerTimestamp": 1_700_000_000, "FragmentLengthInMilliseconds": 500}], "NextToken": "abc"})
    assert fast == generic
    assert fast[2] == (b'{"Fragments":[{"FragmentNumber":"' + b"1" * 47 + b'","FragmentSizeInBytes":10,'
                       b'"ProducerTimestamp":1700000000.25,"ServerTimestamp":1700000000,'
                       b'"FragmentLengthInMilliseconds":500}],"NextToken":"abc"}')
