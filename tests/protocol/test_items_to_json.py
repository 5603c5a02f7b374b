"""restjson.items_to_json (the compiled fast path for long lists of structures) writes the JSON
text that the generic serializer and dump_json write for the same items given as mappings, byte
for byte."""
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
              + [0, 1, 999, 1000, 1001, 1_700_000_000_005, -1, -1000, -1500]
              # every millisecond of a second, at the range's start, now and its end
              + [whole * 1000 + ms for whole in (0, 1_700_000_000, 2**33 - 1) for ms in range(1000)])
    rows = []
    for stamp in stamps:
        other = chooser.choice(stamps)
        rows.append((f"{chooser.randrange(10**46):047d}", chooser.randrange(0, 2**40), stamp, other,
                     chooser.randrange(0, 10**6)))
    # Absent members (None) anywhere in a row.
    rows += [tuple(None if index in gone else value for index, value in enumerate(row))
             for row in rows[:200] for gone in [{chooser.randrange(5)}, {1, 3}]]
    # Values of other types than the members' (the encoder writes them), strings to escape.
    rows += [("é\"\\\n\x00\u2028{}", True, 1_700_000_000_000, 2.5, -3), (7, 1.0, 1.5, 2, False),
             ("\U0001F600", 2**70, 1, 10**12, float("inf"))]
    convert = restjson.items_to_json(FRAGMENTS, MEMBERS)
    answered = convert(rows)
    assert type(answered) is restjson.JsonText
    expected = _generic(rows)
    assert restjson.dump_json({"Fragments": answered}) == restjson.dump_json({"Fragments": expected})
    assert restjson.dump_json(answered) == restjson.dump_json(expected)


def test_members_in_another_order_and_left_out():
    convert = restjson.items_to_json(FRAGMENTS, ("ServerTimestamp", "FragmentNumber"))
    assert convert([(1_700_000_000_500, "n")]).text == '[{"FragmentNumber":"n","ServerTimestamp":1700000000.5}]'
    assert convert([]).text == "[]"


def test_text_below_the_top_level_and_lone_surrogates():
    """A JsonText anywhere in a document (dump_json splices it in at the top level, the encoder
    reads it back below), and a lone surrogate (no UTF-8 form: the whole answer in \\u escapes)."""
    convert = restjson.items_to_json(FRAGMENTS, MEMBERS)
    for rows in ([("1" * 47, 10, 1_700_000_000_250, 1_700_000_000_000, 500)],
                 [("\ud800é", 10, 1_700_000_000_250, 1_700_000_000_000, 500)]):
        expected = _generic(rows)
        for document in ({"Fragments": convert(rows), "NextToken": "é"},
                         {"Outer": {"Fragments": convert(rows)}, "List": [convert(rows)]}):
            generic = {"Fragments": expected, "NextToken": "é"} if "NextToken" in document else \
                {"Outer": {"Fragments": expected}, "List": [expected]}
            assert restjson.dump_json(document) == restjson.dump_json(generic)


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
