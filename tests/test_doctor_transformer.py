"""The doctor on transformers against oracles: attention entropy by hand (uniform = log T, one-hot = 0), the
per-block dLoss/dh against autograd, and constructed nets that theory says are sick (attention only, no skips:
rank collapse; one-hot attention: entropy collapse) or healthy (pre-LN at init)."""

import math

import pytest
import torch
import torch.nn.functional as F

from depthlab.cli import main
from depthlab.data import load_dataset
from depthlab.diagnose import diagnose, doctor, verdicts, watch
from depthlab.diagnose.attention import (
    attention_weights,
    block_attention_entropy,
    entropy,
    mean_entropy,
    uniform_entropy,
)
from depthlab.diagnose.checks import THRESHOLDS
from depthlab.errors import DepthlabError
from depthlab.models import create_model
from dloss_dh import autograd_dloss_dh_rms, one_watched_step

SHAPE = {"width": 16, "heads": 2, "input_shape": (6,), "vocab_size": 10, "num_classes": 3}


@pytest.fixture(scope="module")
def recall():
    return load_dataset("recall")


def by_check(found) -> dict:
    return {v.check: v for v in getattr(found, "verdicts", found)}


def tiny(depth: int = 3, seed: int = 0, **dials):
    torch.manual_seed(seed)
    return create_model("transformer", depth=depth, **SHAPE, **dials)


def watched_steps(model, steps: int = 2, lr: float = 1e-3, seed: int = 0):
    """A few AdamW steps of ``model`` on random token sequences, every one recorded."""
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randint(0, 10, (8, 6), generator=gen), torch.randint(0, 3, (8,), generator=gen)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    with watch(model, optimizer=opt) as w:
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    return w


# --- attention entropy by hand ---


def test_entropy_is_log_t_for_uniform_attention_and_zero_for_one_hot():
    t = 7
    q, k = torch.zeros(2, 3, t, 4), torch.randn(2, 3, t, 4)  # q = 0: every score equal
    assert mean_entropy(q, k, causal=False).item() == pytest.approx(math.log(t), rel=1e-6)
    causal = sum(math.log(i + 1) for i in range(t)) / t  # query i sees i + 1 keys
    assert mean_entropy(q, k, causal=True).item() == pytest.approx(causal, rel=1e-6)
    assert uniform_entropy(t, causal=True) == pytest.approx(causal) and uniform_entropy(t, False) == math.log(
        t
    )
    one_hot = torch.zeros(t, 4)
    one_hot[:, 0] = 100.0  # every query picks key 0, whose score dwarfs the others
    keys = torch.zeros(t, 4)
    keys[0, 0] = 100.0
    assert mean_entropy(one_hot, keys, causal=False).item() == pytest.approx(0.0, abs=1e-6)
    p = torch.tensor([0.25, 0.75])
    assert entropy(p).item() == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))


def test_recomputed_weights_are_what_scaled_dot_product_attention_uses():
    q, k, v = torch.randn(3, 2, 5, 4, generator=torch.Generator().manual_seed(0)).unbind(0)
    for causal in (False, True):
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        assert torch.allclose(attention_weights(q, k, causal) @ v, expected, atol=1e-6)
    with pytest.raises(DepthlabError, match=r"q \(2, 5, 4\), k \(5, 4\)"):
        attention_weights(q, k[0], False)


def test_a_blocks_entropy_is_read_from_its_own_q_and_k():
    model = tiny(depth=1)
    attention = model.blocks[0].attn.f
    with torch.no_grad():
        attention.qkv.weight[:16] = 0  # q = 0: uniform attention over the 6 tokens
        attention.qkv.bias.zero_()
    x = torch.randn(4, 6, 16)
    assert block_attention_entropy(attention, x).item() == pytest.approx(math.log(6), rel=1e-6)


# --- the per-block table ---


def test_block_grad_rms_is_autograds_dloss_dh_at_each_block_output():
    model = tiny(depth=3)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randint(0, 10, (8, 6), generator=gen), torch.randint(0, 3, (8,), generator=gen)
    expected = autograd_dloss_dh_rms(model, ["blocks.0", "blocks.1", "blocks.2"], x, y)
    w = one_watched_step(model, x, y)
    assert [r["grad_rms"] for r in w.block_rows] == pytest.approx(expected, rel=1e-5)
    assert [r["name"] for r in w.block_rows] == ["blocks.0", "blocks.1", "blocks.2"]
    # each block's input is the previous block's output: the two residual readings agree
    rows = w.block_rows
    assert [r["residual_in"] for r in rows[1:]] == pytest.approx([r["residual_out"] for r in rows[:-1]])


def test_other_models_get_no_block_table_and_no_transformer_checks():
    mlp = create_model("mlp", depth=4, width=8, input_shape=(6,), num_classes=3)
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    with watch(mlp, optimizer=opt) as w:
        F.cross_entropy(mlp(torch.randn(4, 6)), torch.tensor([0, 1, 2, 0])).backward()
        opt.step()
    assert w.block_capture is None and w.block_rows == []
    assert "rank collapse" not in by_check(diagnose(w))


# --- the verdicts against constructed nets ---


def test_pure_attention_without_skips_is_rank_collapse_and_a_pre_ln_stack_is_not():
    sick = watched_steps(tiny(depth=6, mlp=False, residual=False))
    v = by_check(diagnose(sick, {"residual": False, "mlp": False, "norm_position": "pre"}))["rank collapse"]
    assert v.status == "PROBLEM" and v.remedy == {"residual": True, "mlp": True}
    assert by_check(diagnose(sick))["rank collapse"].remedy == {}  # no dials known: in words
    assert "try skip connections" in by_check(diagnose(sick))["rank collapse"].message
    healthy = by_check(diagnose(watched_steps(tiny(depth=6))))
    assert healthy["rank collapse"].status == "ok"
    assert healthy["attention entropy collapse"].status == "ok"


def test_one_hot_attention_is_entropy_collapse_with_a_lower_lr_and_warmup():
    model = tiny(depth=2)
    with torch.no_grad():  # q and k x 100: attention logits ~1e4 times their init's, near one-hot
        for block in model.blocks:
            block.attn.f.qkv.weight[:32] *= 100
    w = watched_steps(model, steps=1)
    config = {"lr": 1e-3, "warmup": 0}
    v = by_check(diagnose(w, config))["attention entropy collapse"]
    assert v.status == "PROBLEM" and v.remedy == {"lr": 1e-4}
    assert "other remedies: warmup=100" in v.message and "sigmaReparam" in v.message
    settled = by_check(diagnose(w, {"lr": 1e-3, "warmup": 100}))["attention entropy collapse"]
    assert settled.remedy == {"lr": 1e-4} and "warmup" not in settled.message


def block_rows_for(grads: list[float], step: int = 0) -> list[dict]:
    return [
        {
            "step": step,
            "block": i,
            "name": f"blocks.{i}",
            "norm_position": "pre",
            "grad_rms": g,
            "attn_entropy": 1.0,
            "attn_entropy_uniform": 1.0,
            "residual_in": 0.9,
            "residual_out": 0.5,
        }
        for i, g in enumerate(grads)
    ]


def layer_rows(step: int = 0) -> list[dict]:
    return [
        {
            "step": step,
            "layer": i,
            "depth": i + 1,
            "name": f"l{i}",
            "kind": "Linear",
            "grad_norm": 1.0,
            "weight_norm": 1.0,
            "update_ratio": 1e-3,
            "out_std": 1.0,
            "act_grad_rms": 1.0,
            "dead_frac": math.nan,
            "saturated_frac": math.nan,
        }
        for i in range(3)
    ]


def test_a_deep_post_ln_stack_at_init_has_undamped_gradients_at_the_top_and_pre_ln_does_not():
    # Xiong et al. 2020: pre-LN damps the top's gradient (~1/sqrt(depth)); post-LN's stays as large as the
    # bottom's, which is why post-LN needs a warm-up
    post = watched_steps(tiny(depth=6, norm_position="post"), steps=1)
    config = {"norm_position": "post", "warmup": 0, "lr": 1e-3}
    v = by_check(diagnose(post, config))["gradients at the top"]
    assert v.status == "PROBLEM" and v.remedy == {"norm_position": "pre"}
    assert "other remedies: warmup=100, norm_position=deepnorm" in v.message
    warmed = by_check(diagnose(post, config | {"warmup": 100}))["gradients at the top"]
    assert warmed.remedy == {"norm_position": "pre"} and "warmup" not in warmed.message
    pre = watched_steps(tiny(depth=6), steps=1)
    rows = pre.block_rows
    assert rows[-1]["grad_rms"] / rows[0]["grad_rms"] < THRESHOLDS["top_ratio"]  # the damped top
    assert by_check(diagnose(pre))["gradients at the top"].status == "ok"
    shallow = watched_steps(tiny(depth=2, norm_position="post"), steps=1)
    assert by_check(diagnose(shallow))["gradients at the top"].status == "ok"


def test_on_a_transformer_the_flow_checks_read_the_blocks_outputs():
    v = by_check(verdicts(layer_rows(), block_rows=block_rows_for([1e-4, 1.0])))["vanishing gradients"]
    assert (
        v.status == "PROBLEM" and "first block's output ('blocks.0') over the last ('blocks.1')" in v.message
    )
    flat = by_check(verdicts(layer_rows(), block_rows=block_rows_for([1.0, 1.0])))
    assert flat["vanishing gradients"].status == "ok" and flat["exploding gradients"].status == "ok"


def test_a_transformer_watch_before_its_first_step_notes_every_check():
    with pytest.warns(RuntimeWarning, match="watch recorded nothing"), watch(tiny(depth=2)) as w:
        found = by_check(diagnose(w))
    assert {found[c].status for c in ("rank collapse", "gradients at the top", "vanishing gradients")} == {
        "note"
    }


def test_the_doctor_and_the_cli_on_recall_print_the_transformer_verdicts(recall, capsys):
    report = doctor("transformer", recall, steps=2, every=1, twin=False, depth=2, width=16, heads=2)
    assert {"gradients at the top", "attention entropy collapse", "rank collapse"} <= set(by_check(report))
    assert len(report.block_rows) == 2 * 2
    code = main(
        [
            "doctor",
            "transformer",
            "depth=2",
            "width=16",
            "heads=2",
            "--data",
            "recall",
            "--steps",
            "2",
            "--every",
            "1",
            "--no-twin",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "rank collapse:" in out and "attention entropy collapse:" in out
    assert "gradients at the top:" in out


def test_a_transformers_remedies_are_dials_it_takes():
    from depthlab.diagnose import remedies
    from depthlab.models import create_model

    net = create_model("transformer", depth=4, width=16, heads=2, residual=False, norm_position="post")
    config = {**vars(net.config), "lr": 1e-3, "warmup": 0, "grad_clip": None}
    assert remedies.vanishing(config) == {"residual": True}  # not norm=batch, which a transformer refuses
    assert remedies.exploding_gradients(config) == {"norm_position": "pre"}
    assert "norm" not in remedies.dead_units(config) and "norm" not in remedies.saturation(config)
    for fix in (
        remedies.vanishing(config),
        remedies.exploding_gradients(config),
        remedies.saturation(config),
    ):
        create_model("transformer", **{**vars(net.config), **{k: v for k, v in fix.items() if k != "warmup"}})
