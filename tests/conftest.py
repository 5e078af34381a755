"""Fixtures shared by the unit and workflow tests (helpers they import live in tests/*_fixture.py)."""

from __future__ import annotations

import pytest
from model_fixture import tiny_classifier


@pytest.fixture(scope="module")
def clf():
    """A frozen random-weight tiny classifier over a, b, c (seed 0); one per test module, so none leaks state."""
    return tiny_classifier().requires_grad_(False)


@pytest.fixture(scope="session")
def tiny_prepared(tmp_path_factory) -> dict[str, str]:
    """``esc50_fixture.make_tiny_prepared`` built once: tests read it and write their outputs elsewhere."""
    from esc50_fixture import make_tiny_prepared

    return make_tiny_prepared(tmp_path_factory.mktemp("tiny_prepared"))
