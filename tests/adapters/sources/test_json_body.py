"""`load_json_object`: the nesting limit holds exactly, and brackets inside strings don't count."""

from __future__ import annotations

import json

import pytest

from adapters.sources.base import PayloadError, load_json_object


def _nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    data = load_json_object(_nested(32))
    assert json.dumps(data).count("{") == 32


def test_one_level_more_is_refused_with_400() -> None:
    with pytest.raises(PayloadError, match="deeper than 32") as caught:
        load_json_object(_nested(33))
    assert caught.value.status == 400


def test_brackets_inside_strings_are_text_not_nesting() -> None:
    body = b'{"id": "x", "comment": "' + b"[{" * 200 + b'\\"[{"}'
    assert load_json_object(body)["comment"].startswith("[{[{")


def test_many_flat_siblings_are_not_deep() -> None:
    body = json.dumps({"answers": [{"q": n} for n in range(100)]}).encode()
    assert len(load_json_object(body)["answers"]) == 100
