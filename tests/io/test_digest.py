"""`rekindle.io.digest`: one flipped bit anywhere in a payload changes its SHA-256."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from rekindle.io.digest import DIGEST_KEY, digest_problem, payload_sha256


def _payload() -> dict:
    return {
        "format": "x",
        "n": 3,
        "w": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "meta": {"threshold": -9.0, "names": ["a", "b"], "none": None, "flag": True},
    }


def test_digest_is_sha256_of_a_canonical_form_and_ignores_its_own_entry():
    a = _payload()
    d = payload_sha256(a)
    assert len(d) == 64 and int(d, 16) >= 0
    assert payload_sha256({**a, DIGEST_KEY: "anything"}) == d
    reordered = {k: a[k] for k in reversed(list(a))}
    assert payload_sha256(reordered) == d  # key order is not content
    # an empty payload: the digest of the canonical empty mapping
    assert payload_sha256({}) == hashlib.sha256(b"d" + (0).to_bytes(8, "little")).hexdigest()


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: p["w"].view(-1).__setitem__(4, float(np.nextafter(np.float32(4), 5))),
        lambda p: p.__setitem__("w", p["w"].double()),  # same values, another dtype
        lambda p: p.__setitem__("w", p["w"].reshape(3, 2)),  # same bytes, another shape
        lambda p: p["meta"].__setitem__("threshold", -9.000000000000002),
        lambda p: p["meta"]["names"].append("c"),
        lambda p: p["meta"].__setitem__("flag", 1),  # True and 1 differ
        lambda p: p.__setitem__("n", 3.0),
    ],
)
def test_any_change_changes_the_digest(edit):
    a, b = _payload(), _payload()
    edit(b)
    assert payload_sha256(a) != payload_sha256(b)


def test_unknown_types_are_refused():
    with pytest.raises(TypeError, match="cannot digest a object"):
        payload_sha256({"x": object()})


def test_digest_problem_names_a_mismatch_a_missing_digest_and_an_undigestable_entry():
    a = _payload()
    a[DIGEST_KEY] = payload_sha256(a)
    assert digest_problem(a) is None
    flipped = {**a, "w": a["w"].clone()}
    flipped["w"].view(torch.int32)[0, 0] ^= 1  # one bit of one float
    assert digest_problem(flipped).startswith("checksum mismatch")
    assert digest_problem({k: v for k, v in a.items() if k != DIGEST_KEY}).startswith(
        "checksum mismatch"
    )
    assert digest_problem({**a, "odd": object()}).startswith("inconsistent contents")
