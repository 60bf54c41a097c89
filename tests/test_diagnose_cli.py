"""depthlab doctor / inspect: output on good input, exit 2 with one line on bad input."""

import pytest

from depthlab.cli import main


def test_inspect_prints_the_cost_table_and_layers(capsys):
    assert (
        main(["inspect", "mlp", "depth=5", "width=16", "--batch-size", "4", "--time", "0.01", "--layers"])
        == 0
    )
    out = capsys.readouterr().out
    assert "longest-path depth" in out and "FLOPs / sample (forward)" in out
    # forward FLOPs per sample of the 40-16-16-16-16-10 MLP: 2 * (40*16 + 3*16*16 + 16*10)
    assert f"{2 * (40 * 16 + 3 * 16 * 16 + 16 * 10):,}" in out
    assert "blocks.2." in out and "head" in out  # the deepest block and the head, by module name


def test_doctor_prints_verdicts_and_writes_the_table(capsys, tmp_path):
    csv_path, png = tmp_path / "flow.csv", tmp_path / "flow.png"
    code = main(
        [
            "doctor",
            "mlp",
            "depth=12",
            "activation=sigmoid",
            "--steps",
            "6",
            "--every",
            "3",
            "--no-twin",
            "--csv",
            str(csv_path),
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "PROBLEM vanishing gradients" in out and "— try activation=relu" in out
    assert len(csv_path.read_text().splitlines()) == 1 + 2 * 12  # header + 2 recorded steps x 12 layers
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["inspect", "mlpp"], "did you mean 'mlp'"),
        (["inspect", "mlp", "--form", "fused"], "unknown form 'fused'"),
        (["inspect", "mlp", "depth"], "expected key=value"),
        (["inspect", "mlp", "--batch-size", "0"], "batch_size=0"),
        (["doctor", "mlp", "--steps", "0"], "steps=0"),
        (["doctor", "mlp", "widht=3", "--steps", "1"], "did you mean 'width'"),
        (["doctor", "mlp", "--data", "mnist2d", "--steps", "1"], "unknown"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
