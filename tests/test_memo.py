"""``steering.memo``: the in-memory LRU of recent results and the content digest its keys are made of."""

from __future__ import annotations

import torch

from steering.memo import Recent, digest


def test_recent_keeps_the_most_recently_used():
    recent: Recent[int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # a is now the most recent
    recent.put("c", 3)
    assert recent.get("b") is None and recent.get("a") == 1 and recent.get("c") == 3
    recent.put("a", 10)  # replaced, and most recent again
    recent.put("d", 4)
    assert recent.get("c") is None and recent.get("a") == 10


def test_digest_tells_contents_dtypes_shapes_and_headers_apart():
    x = torch.arange(6, dtype=torch.float32)
    same = digest(["m", 1], [x])
    assert digest(["m", 1], [x.clone()]) == same
    assert digest(["m", 1], [x.reshape(2, 3)]) != same
    assert digest(["m", 1], [x.double()]) != same
    assert digest(["m", 2], [x]) != same
    changed = x.clone()
    changed[5] = 5.5
    assert digest(["m", 1], [changed]) != same
    assert digest({"b": 1, "a": 2}) == digest({"a": 2, "b": 1})  # the header is JSON with sorted keys
