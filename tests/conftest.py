"""Shared pytest set-up: tests/unit needs no root; tests/root does."""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root: runs real processes")
    for item in items:
        if "tests/root" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture
def project_root() -> pathlib.Path:
    return ROOT
