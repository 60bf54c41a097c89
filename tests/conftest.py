"""Shared test settings: quiet, deterministic, and polite to a 2-core machine."""

import os

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # two xdist workers share two cores


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
