"""Shared test settings: quiet, deterministic, and polite to a 2-core machine."""

import pytest
import torch

# Test models are tiny: extra intra-op threads gain nothing, and with two xdist workers on two cores (or any
# other load) waiting threads cost seconds per call.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
