"""The fixed events of sample_events.py as a fixture."""

from __future__ import annotations

import pytest

from .sample_events import make_events


@pytest.fixture
def events() -> list[dict]:
    return make_events()
