"""A run paused at a step and resumed from its checkpoint equals the uninterrupted run, bit for bit: the
schedule spans the whole budget, the batches resume within the epoch, and the losses not yet read at the
pause are read where the uninterrupted run reads them (the plateau rule sees the same windows)."""

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.train import checkpoint as ckpt
from depthlab.train import fit
from test_checkpoint import RECIPE, dropout_bn_mlp
from test_engine import blobs, without_time

# 10 steps per epoch, 40 in all; sync_every 7 puts reads off the epoch ends and off the pauses below
LONG = dict(RECIPE, epochs=4, sync_every=7, plateau_window=5, plateau_tol=0.5, plateau_stop=False)


def weights(model):
    return [t.clone() for t in model.state_dict().values()]


@pytest.mark.parametrize("pauses", [[13], [10], [3, 17, 26], [20, 21]])
def test_paused_and_resumed_equals_uninterrupted(tmp_path, pauses):
    data = blobs(n_train=500)
    reference_model = dropout_bn_mlp()
    reference = fit(reference_model, data, **LONG)
    for k, pause in enumerate(pauses):
        torch.manual_seed(1000 + pause)  # resume must restore the global RNG itself
        model = dropout_bn_mlp(seed=5 if k else 0)  # a resumed run's weights come from the checkpoint
        paused = fit(model, data, checkpoint_dir=str(tmp_path), resume=True, pause_at=pause, **LONG)
        assert paused.steps == pause
    model = dropout_bn_mlp(seed=9)
    resumed = fit(model, data, checkpoint_dir=str(tmp_path), resume=True, **LONG)
    assert resumed.steps == reference.steps == 40
    assert resumed.final == reference.final
    assert resumed.curve == reference.curve  # the same loss reads, at the same steps
    assert without_time(resumed.records) == without_time(reference.records)
    assert resumed.plateau_step == reference.plateau_step is not None
    for a, b in zip(weights(model), weights(reference_model), strict=True):
        assert torch.equal(a, b)


def test_a_pause_saves_within_the_epoch_and_records_nothing(tmp_path):
    paused = fit(dropout_bn_mlp(), blobs(n_train=500), checkpoint_dir=str(tmp_path), pause_at=13, **LONG)
    _, meta = ckpt.load_checkpoint(tmp_path)
    assert (meta["step"], meta["epoch"]) == (13, 1)  # inside the second epoch (0-based 1)
    assert meta["pending_sizes"] == [50] * 3  # steps 11-13: read at the epoch end (10), next at 14
    assert [r["epoch"] for r in paused.records] == [1]


def test_a_pause_at_or_past_the_budget_finishes_the_run():
    data = blobs(n_train=500)
    assert fit(dropout_bn_mlp(), data, pause_at=40, **LONG).final == fit(dropout_bn_mlp(), data, **LONG).final


def test_bad_pause_is_one_line():
    with pytest.raises(DepthlabError, match=r"pause_at=0: must be >= 1"):
        fit(dropout_bn_mlp(), blobs(), pause_at=0, **LONG)
