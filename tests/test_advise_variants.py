"""The variant is part of the advice: a depth the probe finds untrainable as given gets the doctor's remedy
(BN, then residual + BN) when that one trains, and says so; a user who sets norm/residual keeps them."""

import pytest

import depthlab
from depthlab.advise.advice import answer, table

# a deep sigmoid net with a tiny init: the gradient vanishes at depth 12 (the probe's test of it is in
# test_advise_probes), while BatchNorm rescales every layer's activations and lets it flow
VANISHING = {"activation": "sigmoid", "init": "normal(0.01)", "width": 16}
TINY = {"depths": (1, 12), "steps": 40, "probe_steps": 2, "train": {"lr": 0.01, "batch_size": 64}}


def advise(tmp_path, **model_options):
    options = {**TINY, "model_options": {**VANISHING, **model_options}, "baselines": False, "quiet": True}
    return depthlab.advise("spirals", "mlp", out=str(tmp_path), **options)


def test_an_untrainable_depth_gets_the_doctors_remedy_and_the_table_says_why(tmp_path):
    result = advise(tmp_path)
    deep = next(c for c in result.candidates if c.depth == 12)
    assert deep.status != "untrainable" and deep.probe["trainable"]
    assert (deep.variant, deep.variant_options) == ("BN", {"norm": "batch"})  # the first remedy that trains
    assert "vanishing" in deep.variant_why and deep.to_dict()["variant"]["name"] == "BN"
    shallow = next(c for c in result.candidates if c.depth == 1)
    assert shallow.variant == "" and shallow.to_dict()["variant"]["name"] == "as given"
    rows = {line.split()[0]: line for line in table(result).splitlines()[1:]}
    assert rows["12"].split()[1] == "BN" and rows["1"].split()[1:3] == ["as", "given"]
    chosen = result.recommended
    assert (f"recommended depth: {chosen.depth} with BN" in answer(result)) == (chosen.depth == 12)


def test_a_user_who_sets_the_variant_keeps_it(tmp_path):
    result = advise(tmp_path, norm="none")
    deep = next(c for c in result.candidates if c.depth == 12)
    assert deep.status == "untrainable" and deep.variant == ""


@pytest.mark.parametrize("fixed", [{"norm": "none"}, {"residual": False}])
def test_no_remedy_is_tried_when_norm_or_residual_is_given(fixed):
    from depthlab.advise.runs import remedy_variants

    assert remedy_variants("mlp", {**VANISHING, **fixed}, 12) == []
    assert [name for name, _ in remedy_variants("mlp", VANISHING, 12)] == ["BN", "residual+BN"]
