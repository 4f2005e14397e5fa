"""Shared test hygiene: no test leaves a CLI it started running after it ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from proc_helpers import reap_started


@pytest.fixture(autouse=True)
def _reap_started_clis() -> Iterator[None]:
    yield
    reap_started()
