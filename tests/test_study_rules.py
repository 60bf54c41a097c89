"""Every preset's rule against its own null (docs/statistics.md §6), on synthetic per-seed rows.

Each preset's stored numbers are simulated with a known effect: present → the verdict is held; absent → not
held in at least 90% of 200 draws (the false-positive rate is the test's number); reversed → did not hold.
A seed shares an offset across the cells it trains (that is what pairing removes), plus per-cell noise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from depthlab import stats
from depthlab.study.presets import (
    cost,
    depth,
    gradients,
    nondeep,
    normalization,
    rank_collapse,
    transformer_norm,
    transformer_shape,
    width_vs_depth,
)
from depthlab.study.presets.base import where

SEEDS = range(5)
DRAWS = 200


def row(seed: int, **fields) -> dict:
    tags = {k: v for k, v in fields.items() if k not in ("metrics", "diagnostics", "history", "status")}
    return {
        **tags,
        "seed": seed,
        "status": fields.get("status", "ok"),
        "metrics": fields.get("metrics", {}),
        "diagnostics": fields.get("diagnostics", {}),
        "history": fields.get("history", {"converged": True}),
    }


def scaled(table: dict, effect: float) -> dict:
    """The table's values moved from its first entry by ``effect`` times their distance from it."""
    first = next(iter(table.values()))
    return {k: first + effect * (v - first) for k, v in table.items()}


def false_positive_rate(simulate, analyze) -> float:
    rng = np.random.default_rng(0)
    return sum(analyze(simulate(0.0, rng)).outcome == stats.HELD for _ in range(DRAWS)) / DRAWS


def check_rule(simulate, analyze) -> None:
    rng = np.random.default_rng(1)
    present, reversed_ = analyze(simulate(1.0, rng)), analyze(simulate(-1.0, rng))
    assert present.outcome == stats.HELD, present.verdict
    assert reversed_.outcome == stats.NOT_HELD, reversed_.verdict
    assert false_positive_rate(simulate, analyze) <= 0.10


# --- depth ------------------------------------------------------------------------------------------------
DEPTHS = (1, 2, 4, 8, 16)
TRAIN = {
    "plain+BN": dict(zip(DEPTHS, (0.40, 0.76, 0.91, 0.95, 0.80), strict=True)),
    "residual+BN": dict(zip(DEPTHS, (0.40, 0.77, 0.92, 0.96, 0.97), strict=True)),
}
VAL = dict(zip(DEPTHS, (0.32, 0.58, 0.64, 0.66, 0.665), strict=True))
BUDGET = 1600


def budget_history(final: float, mid: float | None = None) -> dict:
    """An equal-budget run's history: its eval-mode training accuracy at mid-budget (settled: as at the
    end, unless given)."""
    return {
        "steps": BUDGET,
        "records": [{"step": BUDGET // 2, "trainset_acc": final if mid is None else mid}],
    }


def depth_rows(effect: float, rng, noise: float = 0.008) -> list[dict]:
    rows = []
    for seed in SEEDS:
        offset = rng.normal(0, 0.01)
        for variant, table in TRAIN.items():
            train, val = scaled(table, effect), scaled(VAL, effect)
            for d in DEPTHS:
                acc = {
                    "train_acc": train[d] + offset + rng.normal(0, noise),
                    "val_acc": val[d] - 0.01 * (variant != "residual+BN") + offset + rng.normal(0, noise),
                    "test_acc": val[d] + offset + rng.normal(0, noise),
                }
                history = budget_history(acc["train_acc"])
                rows.append(row(seed, variant=variant, depth=d, metrics=acc, history=history))
    return rows


def test_depth_rule_against_its_null():
    check_rule(depth_rows, depth.analyze)


def test_depth_plain_degradation_alone_absent_is_not_held():
    # Everything else present; plain nets keep their accuracy at the deepest depth.
    def no_degradation(effect, rng):
        rows = depth_rows(1.0, rng)
        for r in rows:
            if r["variant"] == "plain+BN" and r["depth"] == 16:
                r["metrics"]["train_acc"] += 0.15  # back to its peak
                r["history"] = budget_history(r["metrics"]["train_acc"])
        return rows

    assert false_positive_rate(no_degradation, depth.analyze) <= 0.10


def degradation_clause(finding):
    return next(c for c in finding.clauses if c.comparison is depth.PLAIN_DEGRADES)


def test_depth_gap_that_closes_is_a_slower_start_not_degradation():
    rows = depth_rows(1.0, np.random.default_rng(2))
    for r in where(rows, variant="plain+BN", depth=16):
        r["history"] = budget_history(r["metrics"]["train_acc"], mid=0.40)  # 55 pts behind at mid-budget
    clause = degradation_clause(depth.analyze(rows))
    assert clause.outcome == stats.INCONCLUSIVE and clause.reason.startswith("slower to train")


def test_depth_gap_judged_only_once_the_peak_net_settled():
    rows = depth_rows(1.0, np.random.default_rng(2))
    for r in where(rows, variant="plain+BN", depth=8):
        r["history"] = budget_history(r["metrics"]["train_acc"], mid=0.85)  # still gaining 10 pts
    clause = degradation_clause(depth.analyze(rows))
    assert clause.outcome == stats.INCONCLUSIVE and clause.reason.startswith("too early")
    assert depth.analyze(depth_rows(1.0, np.random.default_rng(2))).outcome == stats.HELD


def test_depth_recommends_only_a_depth_outside_the_noise():
    rng = np.random.default_rng(3)
    present, flat = depth.analyze(depth_rows(1.0, rng)), depth.analyze(depth_rows(0.0, rng))
    assert present.recommended_depth in (4, 8, 16) and "test accuracy" in present.recommendation
    assert flat.recommended_depth is None


# --- gradients --------------------------------------------------------------------------------------------
LOG_RATIO = {
    "sigmoid/default": 3.0,
    "tanh/default": 2.0,
    "tanh/xavier": 0.5,
    "relu/xavier": 1.5,
    "relu/he": 0.1,
}


def gradient_rows(effect: float, rng) -> list[dict]:
    rows = []
    for seed in SEEDS:
        for setup, decades in LOG_RATIO.items():
            log_ratio = effect * decades if setup != "relu/he" else (0.1 if effect >= 0 else 3.0)
            log_ratio += rng.normal(0, 0.3)
            rms = [10.0**-log_ratio, 10.0 ** (-log_ratio / 2), 1.0]  # first, middle, last hidden layer
            rows.append(row(seed, part="init", setup=setup, depth=24, diagnostics={"act_grad_rms_init": rms}))
        for setup in gradients.TRAINED:
            if effect == 0:
                stalls = rng.random() < 0.3  # the same stall rate for both inits
            else:
                stalls = (setup == "relu/xavier") == (effect > 0)
            loss = math.log(10) - 0.01 if stalls else 0.4 + rng.normal(0, 0.05)
            rows.append(row(seed, part="trained", setup=setup, metrics={"train_loss": loss}))
    return rows


def test_gradients_rule_against_its_null():
    check_rule(gradient_rows, gradients.analyze)


def test_each_init_is_judged_at_its_best_rate_on_the_one_grid():
    def trained(seed, setup, lr, loss, status="ok"):
        return row(seed, part="trained", setup=setup, lr=lr, status=status, metrics={"train_loss": loss})

    rows = [trained(0, "relu/xavier", 0.01, math.log(10)), trained(0, "relu/xavier", 0.03, 0.5)]
    rows += [trained(1, "relu/xavier", 0.01, 2.3025), trained(1, "relu/xavier", 0.03, 9.0, "diverged")]
    best = gradients.best_runs(rows, "relu/xavier")
    assert [(r["seed"], r["lr"]) for r in best] == [(0, 0.03), (1, 0.01)]
    assert [gradients.stalled(r) for r in best] == [False, True]


def test_stall_rates_are_compared_with_fisher_and_newcombe():
    clause, numbers = gradients.stall_clause(gradient_rows(1.0, np.random.default_rng(0)))
    assert numbers["stalled"] == {"relu/xavier": (5, 5), "relu/he": (0, 5)}
    assert numbers["fisher_p"] == pytest.approx(1 / 252)  # one table of C(10, 5) is this extreme
    assert clause.interval.low == pytest.approx(stats.rate_difference(5, 5, 0, 5).low)


# --- normalization ----------------------------------------------------------------------------------------
LRS = (0.01, 0.03, 0.1, 0.3, 1.0)


def normalization_rows(effect: float, rng) -> list[dict]:
    rows = []
    for seed in SEEDS:
        for norm in ("none", "batch"):
            better = (norm == "batch") == (effect > 0) and effect != 0
            top = 1.0 if better else (0.1 if effect != 0 else rng.choice([0.1, 0.3]))
            base_steps = 300 if better else 800 if effect != 0 else 500
            for lr in LRS:
                ok = lr <= top
                steps = base_steps * math.exp(rng.normal(0, 0.15))
                history = {"converged": True, "steps": 1500, "curve": [(50, 2.0), (int(steps), 0.9)]}
                metrics = {
                    "train_acc": 0.9 if ok else 0.1,
                    "train_loss": 0.3 + 0.1 * abs(math.log10(lr / 0.1)),
                }
                status = "ok" if ok else "diverged"
                tags = {"norm": norm, "lr": lr, "regime": normalization.JUDGED}
                rows.append(row(seed, status=status, metrics=metrics, history=history, **tags))
    return rows


def test_normalization_rule_against_its_null():
    check_rule(normalization_rows, normalization.analyze)


def test_steps_to_reads_the_learning_curve():
    curve = {"curve": [(50, 2.1), (100, 1.2), (150, 0.95)], "steps": 400}
    assert normalization.steps_to({"history": curve}) == 150
    assert normalization.steps_to({"history": curve}, target=0.5) == math.inf  # never got there


def test_each_variant_is_timed_at_its_fastest_rate_diverged_counting_as_never():
    def run(lr, reached, status="ok"):
        curve = [(reached, 0.9)] if reached else [(1500, 1.8)]
        return row(0, norm="batch", lr=lr, status=status, history={"curve": curve, "steps": 1500})

    rows = [run(0.01, 900), run(0.1, 300), run(0.3, 100, "diverged"), run(1.0, None)]
    assert normalization.fastest(rows, "batch", budget=1500) == {0: 300}
    assert normalization.fastest([run(1.0, None)], "batch", budget=1500) == {0: 1500}  # never: the budget


# --- width vs depth ---------------------------------------------------------------------------------------
WVD = dict(zip((2, 3, 5, 9, 17), (0.60, 0.64, 0.66, 0.66, 0.65), strict=True))


def width_rows(effect: float, rng) -> list[dict]:
    rows = []
    for seed in SEEDS:
        offset = rng.normal(0, 0.01)
        for d, acc in scaled(WVD, effect).items():
            metrics = {
                "val_acc": acc + offset + rng.normal(0, 0.006),
                "test_acc": acc + offset + rng.normal(0, 0.006),
                "params": 20_000,
            }
            rows.append(row(seed, depth=d, metrics=metrics))
    return rows


def test_width_vs_depth_rule_against_its_null():
    check_rule(width_rows, width_vs_depth.analyze)


def test_width_vs_depth_selects_on_validation_and_reports_on_test():
    rows = width_rows(1.0, np.random.default_rng(0))
    for r in rows:  # validation says depth 17 is best by far; test says it is no better than depth 2
        if r["depth"] == 17:
            r["metrics"]["val_acc"] += 0.2
            r["metrics"]["test_acc"] = [s for s in rows if s["depth"] == 2 and s["seed"] == r["seed"]][0][
                "metrics"
            ]["test_acc"]
    finding = width_vs_depth.analyze(rows)
    assert finding.numbers["one_se"]["chosen"] == 17 and finding.outcome != stats.HELD


# --- cost -------------------------------------------------------------------------------------------------
def cost_rows(effect: float, rng) -> list[dict]:
    rows = []
    for seed in SEEDS:
        shapes = {}
        for d in (2, 4, 8, 16):
            slow = 3.0 ** (effect * math.log2(d / 2) / 3)  # 3x slower at depth 16 when present
            for family in cost.FAMILIES:
                times = [0.1 * slow * math.exp(rng.normal(0, 0.1)) for _ in range(5)]
                shapes[f"{family}/{d}"] = {"latency_ms": times, "flops": 40_000.0, "params": 20_000}
        rows.append(row(seed, diagnostics={"latency": shapes}))
    return rows


def test_cost_rule_against_its_null():
    check_rule(cost_rows, cost.analyze)


# --- nondeep ----------------------------------------------------------------------------------------------
def nondeep_rows(effect: float, rng) -> list[dict]:
    rows = []
    behind = {1.0: 0.005, 0.0: nondeep.CLOSE, -1.0: 0.08}[effect]  # absent: exactly at the 3-point margin
    speedup = {1.0: 1.6, 0.0: 1.0, -1.0: 0.7}[effect]
    for seed in SEEDS:
        resnet = 0.95 + rng.normal(0, 0.01)
        for model, acc, deploy in (("resnet20", resnet, 1.0), ("parnet_lite", resnet - behind, speedup)):
            train_ms = [2.0 * math.exp(rng.normal(0, 0.05)) for _ in range(7)]
            deploy_ms = [t / deploy * math.exp(rng.normal(0, 0.05)) for t in train_ms]
            diagnostics = {
                "cost_deploy": {"longest_path_depth": 12},
                "deploy_latency": {"train": train_ms, "deploy": deploy_ms},
            }
            metrics = {"test_acc": acc + rng.normal(0, 0.005), "params": 50_000}
            rows.append(row(seed, model=model, metrics=metrics, diagnostics=diagnostics))
    return rows


def test_nondeep_rule_against_its_null():
    check_rule(nondeep_rows, nondeep.analyze)


# --- rank_collapse ----------------------------------------------------------------------------------------
def rank_rows(effect: float, rng) -> list[dict]:
    """Decades lost from the embedding to the last block: ~0.3 with skips; attention only ~7 more (present),
    the same (absent) or ~7 fewer (reversed); the full block like the skips."""
    rows = []
    for seed in SEEDS:
        kept = {k: 0.3 + rng.normal(0, 0.1) for k in ("rank_init", "rank")}
        for variant in rank_collapse.VARIANTS:
            lost = {
                k: v + (effect * 6.7 if variant == rank_collapse.ATTENTION_ONLY else 0) + rng.normal(0, 0.2)
                for k, v in kept.items()
            }
            diagnostics = {k: [0.9, 0.9 * 10 ** (-v)] for k, v in lost.items()}
            metrics = {"val_acc": 0.3 + rng.normal(0, 0.02)}
            rows.append(row(seed, variant=variant, metrics=metrics, diagnostics=diagnostics))
    return rows


def test_rank_collapse_rule_against_its_null():
    check_rule(rank_rows, rank_collapse.analyze)


# --- transformer_norm -------------------------------------------------------------------------------------
# deep minus shallow validation loss when the claim holds: post-LN stuck near chance, warm-up partly rescuing
# it, pre-LN and DeepNorm within the margin; absent (effect 0) puts every form at the margin and the init
# gradients level; reversed mirrors them about the margin.
NORM_GAPS = {"post-LN": 0.8, "post-LN + warm-up": 0.2, "pre-LN": 0.05, "DeepNorm": 0.0}


def transformer_norm_rows(effect: float, rng) -> list[dict]:
    rows, margin = [], transformer_norm.MARGIN
    for seed in SEEDS:
        shallow = 1.25 + rng.normal(0, 0.03)
        for form, gap in NORM_GAPS.items():
            tilt = effect * (0.3 if form == "post-LN" else -0.6 if form == "pre-LN" else 0.0)  # as measured
            grads = [1.0, 10 ** (tilt + rng.normal(0, 0.05))]  # first and last block at init
            deep = shallow + margin + effect * (gap - margin) + rng.normal(0, 0.05)
            for blocks, loss in ((2, shallow + rng.normal(0, 0.02)), (16, deep)):
                diagnostics = {"block_grads_init": grads}
                rows.append(
                    row(seed, form=form, depth=blocks, metrics={"val_loss": loss}, diagnostics=diagnostics)
                )
    return rows


def test_transformer_norm_rule_against_its_null():
    check_rule(transformer_norm_rows, transformer_norm.analyze)


def test_transformer_norm_counts_a_diverged_run_at_chance():
    rows = transformer_norm_rows(1.0, np.random.default_rng(3))
    for r in where(rows, form="post-LN", depth=16):
        r["status"], r["metrics"] = "diverged", {"val_loss": None}
    losses = transformer_norm.losses(rows, "post-LN", 16)
    assert list(losses.values()) == [transformer_norm.CHANCE_LOSS] * len(SEEDS)


# --- transformer_shape ------------------------------------------------------------------------------------
RATES = (3e-4, 1e-3, 3e-3, 1e-2)


def transformer_shape_rows(effect: float, rng) -> list[dict]:
    """Present: deep-thin 1% above shallow-wide (inside the 5% band), the best rate 0.5 decades lower at depth
    8 in the standard form and unmoved with the branch scale; absent: 5% (the band's edge), no shift anywhere;
    reversed: 9%, the standard form's best rate rising."""
    rows = []
    for seed in SEEDS:
        wide = 2.5 + rng.normal(0, 0.02)
        thin = wide * (1 + (5 + effect * (1 - 5)) / 100) + rng.normal(0, 0.01)
        for shape, bpc in (("2 x 64", wide), ("8 x 32", thin)):
            rows.append(row(seed, part="shape", shape=shape, metrics={"val_bpc": bpc}))
        best = {"standard": -2.5 - 0.5 * effect, "1/sqrt(2 depth)": -2.5}
        for scale, deep_best in best.items():
            for blocks, centre in ((2, -2.5), (8, deep_best)):
                centre += rng.normal(0, 0.08)
                for lr in RATES:
                    loss = 1.5 + 0.5 * (math.log10(lr) - centre) ** 2 + rng.normal(0, 0.005)
                    rows.append(
                        row(seed, part="rate", scale=scale, depth=blocks, lr=lr, metrics={"val_loss": loss})
                    )
    return rows


def test_transformer_shape_rule_against_its_null():
    check_rule(transformer_shape_rows, transformer_shape.analyze)


def test_the_best_rate_is_the_parabolas_vertex_inside_the_grid_and_the_edge_outside_it():
    centre = math.log10(2e-3)
    losses = [(math.log10(lr) - centre) ** 2 for lr in RATES]
    assert transformer_shape.best_log_rate(list(RATES), losses) == pytest.approx(centre)
    assert transformer_shape.best_log_rate(list(RATES), [4, 3, 2, 1]) == math.log10(1e-2)
    assert transformer_shape.best_log_rate(list(RATES), [1, 2, float("nan"), 3]) == math.log10(3e-4)


# --- timing clauses: the same verdict on a slower or a faster machine ------------------------------------
def times_scaled(value, factor: float, keys=("latency_ms", "train", "deploy")):
    """A copy of stored rows with every measured time multiplied by ``factor``."""
    if isinstance(value, dict):
        return {
            k: times_scaled(v, factor, keys) if k not in keys else _scale(v, factor) for k, v in value.items()
        }
    if isinstance(value, list):
        return [times_scaled(v, factor, keys) for v in value]
    return value


def _scale(value, factor):
    return [factor * v for v in value] if isinstance(value, list) else factor * value


@pytest.mark.parametrize("make_rows, analyze", [(cost_rows, cost.analyze), (nondeep_rows, nondeep.analyze)])
@pytest.mark.parametrize("effect", [1.0, 0.0, -1.0])
def test_a_timing_verdict_holds_on_a_machine_half_or_twice_as_fast(make_rows, analyze, effect):
    rows = make_rows(effect, np.random.default_rng(7))
    verdicts = {f: analyze(times_scaled(rows, f)) for f in (0.5, 1.0, 2.0)}
    assert len({v.outcome for v in verdicts.values()}) == 1
    assert len({tuple(c.outcome for c in v.clauses) for v in verdicts.values()}) == 1
    # the scaling reached the stored times: the printed latencies changed
    assert verdicts[0.5].verdict != verdicts[2.0].verdict


def test_transformer_shapes_have_the_same_non_embedding_weights():
    from depthlab.data import load_dataset
    from depthlab.train.launch import build_for

    data = load_dataset("chars", characters=20_000, block=32)
    for depth_, width in transformer_shape.SIZES["full"]["shapes"].values():
        net = build_for("transformer", data, {"depth": depth_, "width": width, "heads": 4})
        weights = sum(p.numel() for n, p in net.blocks.named_parameters() if p.ndim == 2)
        assert weights == 12 * depth_ * width**2 == 98_304  # Kaplan et al.'s N: 12 n_layer d_model^2
