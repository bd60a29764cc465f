"""One check for bad inputs: jnn raises torch's exception type with torch's message."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import pytest


def assert_same_error(torch_call: Callable[[], Any], jnn_call: Callable[[], Any]) -> None:
    """``jnn_call()`` raises exactly the type ``torch_call()`` raises, with its message.

    Both run on the same bad input; warnings either library gives on the way (a zero-size
    weight's init, a deprecated rank) are not what is tested here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as expected:
            torch_call()
        first_line = str(expected.value).splitlines()[0]
        with pytest.raises(type(expected.value), match=re.escape(first_line)) as got:
            jnn_call()
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)
