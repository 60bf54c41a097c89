"""Token representations' distance from rank one (``diagnose.rank``, Dong et al. 2021): the formula by hand
and against the expectation for independent tokens, and the collapse itself on a pure-attention stack."""

import math

import numpy as np
import pytest
import torch

from depthlab.diagnose.rank import block_residuals, relative_residual
from depthlab.errors import DepthlabError
from depthlab.models import create_model


def test_the_relative_residual_is_the_distance_from_the_token_mean_over_the_norm():
    x = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0))
    a = x.numpy()
    expected = [np.linalg.norm(s - s.mean(0)) / np.linalg.norm(s) for s in a]
    assert np.allclose(relative_residual(x).numpy(), expected, rtol=1e-6)
    shared = torch.ones(7, 1) @ torch.randn(1, 6)  # every token the same vector: rank one, residual 0
    assert relative_residual(shared).item() == pytest.approx(0.0, abs=1e-7)


def test_independent_zero_mean_tokens_read_about_sqrt_of_1_minus_1_over_t():
    x = torch.randn(64, 16, 256, generator=torch.Generator().manual_seed(1))
    assert relative_residual(x).mean().item() == pytest.approx(math.sqrt(1 - 1 / 16), rel=0.01)


def test_pure_attention_collapses_to_rank_one_and_a_skip_connection_keeps_the_tokens_apart():
    x = torch.randint(0, 20, (8, 32), generator=torch.Generator().manual_seed(0))
    shape = {"depth": 6, "width": 64, "heads": 4, "input_shape": (32,), "vocab_size": 20, "num_classes": 2}
    readings = {}
    for name, dials in {"attention only": {"residual": False}, "with skips": {"residual": True}}.items():
        torch.manual_seed(0)
        model = create_model("transformer", mlp=False, **shape, **dials)
        readings[name] = block_residuals(model, x)
    assert all(len(r) == 6 + 1 for r in readings.values())  # the embedding, then each block
    assert readings["attention only"][0] > 0.9 and readings["with skips"][0] > 0.9  # distinct tokens going in
    assert readings["attention only"][-1] < 1e-4 < 0.2 < readings["with skips"][-1]


def test_representations_without_a_token_axis_or_a_model_without_blocks_is_one_error():
    with pytest.raises(DepthlabError, match=r"of shape \(4,\): expected \(\.\.\., tokens, features\)"):
        relative_residual(torch.ones(4))
    with pytest.raises(DepthlabError, match="no blocks to read"):
        block_residuals(torch.nn.Linear(2, 2), torch.ones(1, 2))
