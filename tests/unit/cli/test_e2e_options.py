"""`sandbox e2e`'s options: flags over mwaa.yaml's Sandbox.e2e over defaults; bad keys named."""

from __future__ import annotations

import pytest

from sandbox.cli.e2e import _options
from sandbox.errors import ConfigError


def test_flags_win_over_the_spec_and_the_spec_over_defaults():
    options = _options({"producer": "p", "consumer": "c", "identity": "event_id", "format": "apache-combined",
                        "with_schedule": True},
                       producer="mine", consumer=None, identity=None, record_format=None, with_schedule=None)
    assert (options.producer, options.consumer, options.identity) == ("mine", "c", "event_id")
    assert (options.record_format, options.with_schedule) == ("apache-combined", True)
    assert _options({}, with_schedule=None).with_schedule is False
    assert _options({}, record_format=None).record_format == "auto"


def test_an_unknown_spec_key_is_named_with_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        _options({"producer": "p", "idenitty": "x"})
    assert "idenitty" in caught.value.message and "identity" in caught.value.hint
