"""Epoch seconds answered without making a datetime (restjson's fast path) are the very numbers
the datetime path answers: cut to milliseconds the same way, for every value."""
from __future__ import annotations

import datetime as dt
import random

from greenroom.protocol import restjson

UTC = dt.timezone.utc


def _through_a_datetime(value):
    """restjson's own datetime branch (a datetime never takes the fast path)."""
    return restjson.format_timestamp(dt.datetime.fromtimestamp(value, UTC), "unixTimestamp")


def test_epoch_seconds_are_the_datetime_paths_numbers():
    chooser = random.Random(19)
    values = ([chooser.uniform(0, 32503680000) for _ in range(20000)]
              + [chooser.randrange(0, 2**45) / 1000 for _ in range(20000)]       # stored milliseconds
              + [chooser.randrange(0, 2**34) for _ in range(2000)]
              + [0, 0.0, 0.0004999, 0.0005, 0.9999995, 1.0009999, 1700000000.1235, 32503679999.9999995])
    for value in values:
        answered = restjson.format_timestamp(value, "unixTimestamp")
        expected = _through_a_datetime(value)
        assert (answered, type(answered)) == (expected, type(expected)), value
