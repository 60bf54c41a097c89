"""Plots take plain rows and write PNGs (or draw into a given Axes); the per-layer table's numbers."""

import matplotlib.pyplot as plt
import pytest
import torch
from PIL import Image
from torch import nn

from depthlab.diagnose import plots
from depthlab.diagnose.summary import layer_table
from depthlab.errors import DepthlabError

ROWS = [
    {"step": s, "layer": i, "depth": i + 1, "grad_norm": 10.0 ** (i - 5) * (1 + s), "act_std": 0.5}
    for s in (0, 10)
    for i in range(6)
]


@pytest.mark.parametrize("draw", [plots.gradient_flow, plots.activation_std, plots.heatmap])
def test_watch_plots_write_readable_pngs(tmp_path, draw):
    path = draw(ROWS, path=tmp_path / "p.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] >= 600


def test_gradient_flow_plots_layers_along_depth_on_a_log_axis():
    fig, ax = plt.subplots()
    assert plots.gradient_flow(ROWS, ax=ax) is ax
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
    xs, ys = ax.lines[0].get_data()
    assert list(xs) == [1, 2, 3, 4, 5, 6] and ys[0] == pytest.approx(1e-5)
    plt.close(fig)


def test_probe_plot_draws_each_layers_accuracy_and_the_networks_line(tmp_path):
    rows = [{"layer": i, "name": f"b{i}", "test_acc": 0.5 + 0.1 * i} for i in range(3)]
    fig, ax = plt.subplots()
    assert plots.probe_accuracy(rows, ax=ax, model_acc=0.8) is ax
    probes, network = ax.lines
    assert list(probes.get_xdata()) == [0, 1, 2] and list(probes.get_ydata()) == pytest.approx(
        [0.5, 0.6, 0.7]
    )
    assert list(network.get_ydata()) == [0.8, 0.8]  # the network's own accuracy, across the plot
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b0", "b1", "b2"] and ax.get_ylim() == (0, 1)
    plt.close(fig)
    with Image.open(plots.probe_accuracy(rows, tmp_path / "probe.png", model_acc=0.8)) as image:
        assert image.format == "PNG"


def test_an_empty_table_is_one_clear_error(tmp_path):
    with pytest.raises(DepthlabError, match="nothing to plot"):
        plots.gradient_flow([], tmp_path / "x.png")


def test_layer_table_params_flops_and_depth():
    model = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(160, 10))
    rows = layer_table(model, torch.randn(2, 1, 40))
    assert [r["name"] for r in rows] == ["0", "3"] and [r["depth"] for r in rows] == [1, 2]
    assert [r["params"] for r in rows] == [4 * 3 + 4, 160 * 10 + 10]
    assert rows[0]["flops"] == 2 * 4 * 40 * 3 and rows[1]["flops"] == 2 * 160 * 10
    assert rows[0]["output"] == (4, 40)
