"""Fixtures shared by several test modules."""
from __future__ import annotations

import pytest
from random_project import make_random_project


@pytest.fixture(scope="session")
def random_project(tmp_path_factory):
    """(project, lists) over the awkward random table; see tests/random_project.py."""
    return make_random_project(tmp_path_factory.mktemp("random_project"))
