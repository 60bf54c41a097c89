"""The transformer family against oracles: causality, attention written out by hand, each norm position's
formula, DeepNet's constants and init, parameter counts by hand, the depth meter, and one-line errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.diagnose import longest_path_depth
from depthlab.diagnose.measure import measure
from depthlab.errors import DepthlabError
from depthlab.models import create_model
from depthlab.models.base import random_input
from depthlab.models.transformer_block import NORM_POSITIONS, Attention, deepnorm_alpha, deepnorm_beta

LM = dict(task="lm", input_shape=(12,), num_classes=17, width=16, heads=4, depth=3)


def lm(**overrides) -> nn.Module:
    torch.manual_seed(0)
    return create_model("transformer", **(LM | overrides)).eval()


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- causality and attention ----------------------------------------------------------------------


@pytest.mark.parametrize("position", NORM_POSITIONS)
@pytest.mark.parametrize("norm", ["layer", "rms"])
def test_a_later_token_never_changes_an_earlier_logit(position, norm):
    model = lm(norm_position=position, norm=norm)
    ids = torch.randint(0, 17, (2, 12))
    for t in (0, 5, 11):
        changed = ids.clone()
        changed[:, t] = (changed[:, t] + 1) % 17
        with torch.no_grad():
            before, after = model(ids), model(changed)
        assert torch.equal(before[:, :t], after[:, :t])
        assert not torch.allclose(before[:, t:], after[:, t:])  # the changed token does reach its own logit


def test_the_encoder_sees_both_ways():
    model = create_model("transformer", depth=2, width=16, heads=2, input_shape=(6,), vocab_size=9).eval()
    ids = torch.randint(0, 9, (1, 6))
    changed = ids.clone()
    changed[0, 5] = (changed[0, 5] + 1) % 9
    with torch.no_grad():
        first = [model.blocks(model.stem(x))[0, 0] for x in (ids, changed)]
    assert not torch.allclose(*first)  # the first position sees the last one


def written_out_attention(attn: Attention, x: torch.Tensor, causal: bool) -> torch.Tensor:
    """softmax(q k^T / sqrt(d_head) + mask) v per head, then the output Linear."""
    batch, length, width = x.shape
    q, k, v = (x @ w.T + b for w, b in zip(attn.qkv.weight.chunk(3), attn.qkv.bias.chunk(3), strict=True))
    heads = [t.view(batch, length, attn.heads, -1).transpose(1, 2) for t in (q, k, v)]
    scores = heads[0] @ heads[1].transpose(-1, -2) / math.sqrt(width // attn.heads)
    if causal:
        scores = scores.masked_fill(torch.ones(length, length).triu(1).bool(), float("-inf"))
    mixed = scores.softmax(-1) @ heads[2]
    return attn.out(mixed.transpose(1, 2).reshape(batch, length, width))


@pytest.mark.parametrize("causal", [True, False])
def test_sdpa_equals_the_attention_written_out(causal):
    torch.manual_seed(1)
    attn = Attention(width=12, heads=3, dropout=0.0, causal=causal)
    x = torch.randn(2, 7, 12, dtype=torch.float64)
    attn = attn.double()
    torch.testing.assert_close(attn(x), written_out_attention(attn, x, causal))


# --- the block against its formulas ---------------------------------------------------------------


def ln(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], norm.weight, norm.bias)


def block_by_formula(block, x, position, alpha=1.0, scale=1.0, residual=True):
    """Each branch as the module docstring writes it, from the block's own sub-modules."""
    for branch in (block.attn, block.mlp):
        f, skip = branch.f, (alpha * x if residual else 0)
        if position == "pre":
            x = skip + scale * f(ln(branch.norm, x))
        elif position == "none":
            x = skip + scale * f(x)
        else:  # post and deepnorm: the norm after the sum
            x = ln(branch.norm, skip + scale * f(x))
    return x


@pytest.mark.parametrize("position", NORM_POSITIONS)
@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("branch_scale", ["1", "depth"])
def test_each_norm_position_is_its_formula(position, residual, branch_scale):
    depth = 5
    model = (
        create_model(
            "transformer",
            depth=depth,
            width=8,
            heads=2,
            input_shape=(4,),
            vocab_size=5,
            norm_position=position,
            residual=residual,
            branch_scale=branch_scale,
        )
        .double()
        .eval()
    )
    for block in model.blocks:  # norms with non-trivial affine parameters, so their place shows
        for branch in (block.attn, block.mlp):
            if isinstance(branch.norm, nn.LayerNorm):
                nn.init.normal_(branch.norm.weight, 1.0, 0.3)
                nn.init.normal_(branch.norm.bias, 0.0, 0.3)
    x = torch.randn(3, 4, 8, dtype=torch.float64)
    alpha = (2 * depth) ** 0.25 if position == "deepnorm" else 1.0
    scale = 1 / math.sqrt(2 * depth) if branch_scale == "depth" else 1.0
    with torch.no_grad():
        expected = block_by_formula(model.blocks[0], x, position, alpha, scale, residual)
        torch.testing.assert_close(model.blocks[0](x), expected)


def test_rms_norm_is_rms_norm():
    model = create_model("transformer", depth=1, width=8, heads=2, norm="rms", input_shape=(3,), vocab_size=4)
    norm = model.blocks[0].attn.norm
    x = torch.randn(2, 3, 8)
    with torch.no_grad():
        nn.init.normal_(norm.weight)
        expected = x / x.square().mean(-1, keepdim=True).add(torch.finfo(x.dtype).eps).sqrt() * norm.weight
        torch.testing.assert_close(norm(x), expected)


def test_deepnorm_constants_and_init_are_deepnets():
    """Wang et al. 2022 (arXiv 2203.00555), encoder- and decoder-only: alpha = (2N)^(1/4), beta = (8N)^(-1/4);
    Xavier normal with gain beta on v, out and the MLP, gain 1 on q and k."""
    assert deepnorm_alpha(6) == pytest.approx(12**0.25) and deepnorm_beta(6) == pytest.approx(48**-0.25)
    depth, width = 8, 256
    model = create_model("transformer", depth=depth, width=width, heads=4, norm_position="deepnorm")
    beta = (8 * depth) ** -0.25
    attn, mlp = model.blocks[3].attn.f, model.blocks[3].mlp.f

    def xavier(rows, cols, gain):
        return gain * math.sqrt(2 / (rows + cols))

    q, k, v = attn.qkv.weight.chunk(3)
    for weight, gain in ((q, 1.0), (k, 1.0), (v, beta), (attn.out.weight, beta)):
        assert weight.std().item() == pytest.approx(xavier(width, width, gain), rel=0.03)
    for layer in (mlp.fc1, mlp.fc2):
        assert layer.weight.std().item() == pytest.approx(xavier(*layer.weight.shape, beta), rel=0.03)
    assert all(m.bias.abs().sum() == 0 for m in model.blocks.modules() if isinstance(m, nn.Linear))


def test_default_init_is_gpt2s():
    model = create_model("transformer", depth=2, width=128, heads=4, input_shape=(64,), vocab_size=300)
    for weight in (model.blocks[1].attn.f.qkv.weight, model.stem.tokens.weight, model.stem.positions.weight):
        assert weight.std().item() == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize("pool", ["mean", "cls"])
def test_the_classifier_pools_the_final_norm_by_mean_or_class_token(pool):
    model = create_model("transformer", depth=2, width=8, heads=2, input_shape=(2, 6), pool=pool).eval()
    x = torch.randn(3, 2, 6)
    with torch.no_grad():
        h = model.blocks(model.stem(x))  # (B, 6 [+ 1], C)
        assert h.shape[1] == 6 + (pool == "cls")
        final = ln(model.pool.norm, h)
        pooled = final[:, 0] if pool == "cls" else final.mean(1)
        torch.testing.assert_close(model(x), model.head(pooled))


def test_dropout_acts_only_in_training():
    torch.manual_seed(3)
    dropped = create_model("transformer", depth=2, width=16, heads=2, input_shape=(1, 10), dropout=0.3)
    torch.manual_seed(3)
    plain = create_model("transformer", depth=2, width=16, heads=2, input_shape=(1, 10))
    x = torch.randn(4, 1, 10)
    with torch.no_grad():
        torch.testing.assert_close(dropped.eval()(x), plain.eval()(x))
        assert not torch.allclose(dropped.train()(x), plain.train()(x))


# --- parameter counts by hand ---------------------------------------------------------------------


def hand_count(
    depth, width, hidden, positions, embed, head, norm="layer", position="pre", attn=True, mlp=True
):
    """Embedding + positions + per block (attention 4w^2 + 4w, MLP 2wh + h + w, a norm per branch) + the
    final norm of a pre-norm stack + head."""
    per_norm = {"layer": 2 * width, "rms": width}[norm] if position != "none" else 0
    block = per_norm * (attn + mlp)
    block += (4 * width * width + 4 * width) * attn + (2 * width * hidden + hidden + width) * mlp
    final = per_norm if position == "pre" else 0
    return embed + positions * width + depth * block + final + head


@pytest.mark.parametrize(
    "overrides, hidden, positions, embed, head, extra",
    [
        (dict(), 64, 12, 17 * 16, 0, {}),  # the LM: tied head, no parameters of its own
        (dict(norm="rms", norm_position="post"), 64, 12, 17 * 16, 0, dict(norm="rms", position="post")),
        (dict(norm_position="none", mlp_ratio=2.5), 40, 12, 17 * 16, 0, dict(position="none")),
        (dict(mlp=False), 64, 12, 17 * 16, 0, dict(mlp=False)),
        (
            dict(attention=False, norm_position="deepnorm"),
            64,
            12,
            17 * 16,
            0,
            dict(attn=False, position="deepnorm"),
        ),
    ],
)
def test_lm_param_count(overrides, hidden, positions, embed, head, extra):
    model = lm(**overrides)
    assert n_params(model) == hand_count(3, 16, hidden, positions, embed, head, **extra)
    assert model.head.weight is model.stem.tokens.weight


@pytest.mark.parametrize("pool", ["mean", "cls"])
def test_classifier_param_count(pool):
    """Features (3 channels at 5 x 4 positions) through a Linear; a class token adds a vector, a position."""
    model = create_model(
        "transformer", depth=2, width=8, heads=2, input_shape=(3, 5, 4), num_classes=6, pool=pool
    )
    cls = pool == "cls"
    embed = 3 * 8 + 8 + (8 if cls else 0)
    assert n_params(model) == hand_count(2, 8, 32, 20 + cls, embed, 8 * 6 + 6)


# --- depth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        LM,
        LM | dict(attention=False),
        LM | dict(mlp=False, residual=False),
        dict(depth=3, width=8, heads=2, input_shape=(1, 40), pool="cls"),
        dict(depth=2, width=8, heads=2, input_shape=(9,), vocab_size=5, norm_position="deepnorm"),
    ],
)
def test_the_depth_meter_reads_the_blocks_path(overrides):
    """Embedding, two weight layers per branch along the residual stream, head: 2 + sum of the blocks."""
    model = create_model("transformer", **overrides)
    per_block = 2 * (overrides.get("attention", True) + overrides.get("mlp", True))
    report = longest_path_depth(model, random_input(model, model.config.input_shape, 2))
    assert report.depth == model.depth == 2 + per_block * overrides["depth"]
    assert report.weight_layers == model.depth  # a chain: every weight layer lies on the path


@pytest.mark.parametrize("form", ["train", "deploy"])
def test_inspect_measures_the_language_model(form):
    model = lm()
    report = measure(model, (12,), batch_size=4, form=form, time_budget=0.05, train=False)
    assert report["params"] == n_params(model) and report["longest_path_depth"] == 14
    linear = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    attention = 3 * 2 * 2 * 12 * 12 * 16  # per block: q k^T and the weighted sum of v, 2 FLOPs a product
    assert report["flops"] == 2 * 12 * linear + attention


# --- bad dials ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, words",
    [
        (dict(norm_position="sandwich"), ["norm_position", "pre", "post", "deepnorm", "none"]),
        (dict(norm="batch"), ["norm", "layer", "rms"]),
        (dict(task="seq2seq"), ["task", "classify", "lm"]),
        (dict(branch_scale="2"), ["branch_scale", "1", "depth"]),
        (dict(pool="max"), ["pool", "mean", "cls"]),
        (dict(heads=3), ["heads=3", "width=64"]),
        (dict(attention=False, mlp=False), ["attention=False", "mlp=False"]),
        (dict(mlp_ratio=0.001), ["mlp_ratio"]),
        (dict(norm_position="deepnorm", init="he_normal"), ["init='he_normal'", "deepnorm"]),
        (dict(task="lm", pool="cls", input_shape=(8,)), ["pool='cls'"]),
        (dict(task="lm", vocab_size=5, input_shape=(8,)), ["vocab_size=5", "num_classes=10"]),
        (dict(task="lm", input_shape=(1, 40)), ["input_shape=(1, 40)"]),
        (dict(init="kaiming"), ["init", "he_normal", "xavier_normal"]),
    ],
)
def test_a_bad_dial_is_one_line_naming_it_and_the_valid_choices(overrides, words):
    with pytest.raises(DepthlabError) as found:
        create_model("transformer", **overrides)
    message = str(found.value)
    assert "\n" not in message and all(w in message for w in words), message
