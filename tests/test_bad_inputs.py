"""Bad input, a corpus of it: every malformed name, value, config or file gives one clear error and changes
nothing on disk. CLI: one line on stderr, exit 2, no traceback. Python API: one DepthlabError.

Also fuzzed with hypothesis: any garbage given to the config parser or as ``key=value`` overrides is either a
valid config or a DepthlabError, never another exception.
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depthlab import config as cfg
from depthlab.cli import main
from depthlab.data import load_dataset
from depthlab.data.registry import dataset_options
from depthlab.errors import DepthlabError
from depthlab.models import create_model, list_models
from depthlab.models.registry import model_config
from depthlab.train.checkpoint import load_checkpoint
from depthlab.train.config import TrainConfig
from faults.corrupt import (
    CHECKPOINT_DAMAGE,
    CIFAR_DAMAGE,
    MNIST_DAMAGE,
    broken_checkpoint,
    broken_cifar10,
    broken_database,
    broken_mnist,
)

# (argv, a piece of the one-line message). Model errors use --data xor: they fail before any training.
CLI_CASES = [
    (["list", "foo"], "unknown thing to list 'foo'"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["train"], "Missing argument"),
    (["train", "mlp", "--epochs", "3"], "No such option: --epochs"),
    (["train", "mlpp"], "did you mean 'mlp'?"),
    (["train", "mlp", "--data", "nosuch"], "unknown dataset 'nosuch'"),
    (["train", "mlp", "--data", "xor", "--recipe", "nosuch"], "unknown recipe 'nosuch'"),
    (["train", "mlp", "--data", "xor", "depth=abc"], "depth='abc': expected int"),
    (["train", "mlp", "--data", "xor", "depth=0"], "depth=0"),
    (["train", "mlp", "--data", "xor", "depth=-3"], "depth=-3"),
    (["train", "mlp", "--data", "xor", "depth=2.5"], "depth='2.5'"),
    (["train", "mlp", "--data", "xor", "depth=nan"], "depth='nan'"),
    (["train", "mlp", "--data", "xor", "depth=1,2"], "depth='1,2'"),
    (["train", "mlp", "--data", "xor", "width=1e400"], "width='1e400'"),
    (["train", "mlp", "--data", "xor", "width=0"], "width=0"),
    (["train", "mlp", "--data", "xor", "activation=rleu"], "did you mean 'relu'?"),
    (["train", "mlp", "--data", "xor", "norm=bathc"], "did you mean 'batch'?"),
    (["train", "mlp", "--data", "xor", "init=hee"], "unknown init 'hee'"),
    (["train", "mlp", "--data", "xor", "dropout=1.5"], "dropout=1.5"),
    (["train", "mlp", "--data", "xor", "residual=perhaps"], "residual='perhaps'"),
    (["train", "mlp", "--data", "xor", "nosuchkey=1"], "unknown option 'nosuchkey'"),
    (["train", "mlp", "--data", "xor", "depth"], "expected key=value, got 'depth'"),
    (["train", "mlp", "--data", "xor", "=3"], "expected key=value, got '=3'"),
    (["train", "mlp", "--data", "xor", "lr="], "lr='': expected float"),
    (["train", "mlp", "--data", "xor", "lr=0"], "lr=0.0: must be > 0"),
    (["train", "mlp", "--data", "xor", "lr=fast"], "lr='fast'"),
    (["train", "mlp", "--data", "xor", "lr=nan"], "lr=nan"),
    (["train", "mlp", "--data", "xor", "lr=inf"], "lr=inf: must be > 0 and finite"),
    (["train", "mlp", "--data", "xor", "weight_decay=inf"], "weight_decay=inf: must be >= 0 and finite"),
    (["train", "mlp", "--data", "xor", "optimizer=sgdd"], "did you mean 'sgd'?"),
    (["train", "mlp", "--data", "xor", "schedule=cosin"], "did you mean 'cosine'?"),
    (["train", "mlp", "--data", "xor", "epochs=1.5"], "epochs='1.5'"),
    (["train", "mlp", "--data", "xor", "epochs=0"], "epochs=0"),
    (["train", "mlp", "--data", "xor", "steps=0"], "steps=0"),
    (["train", "mlp", "--data", "xor", "batch_size=-1"], "batch_size=-1"),
    (["train", "mlp", "--data", "xor", "momentum=1"], "momentum=1.0"),
    (["train", "mlp", "--data", "xor", "label_smoothing=1"], "label_smoothing=1.0"),
    (["train", "mlp", "--data", "xor", "warmup_factor=0"], "warmup_factor=0.0"),
    (["train", "mlp", "--data", "xor", "grad_clip=-1"], "grad_clip=-1.0"),
    (["train", "mlp", "--data", "xor", "milestones=5,3"], "must increase"),
    (["train", "mlp", "--data", "xor", "amp=fp8"], "unknown value for amp 'fp8'"),
    (["train", "mlp", "--data", "xor", "device=tpu"], "unknown value for device 'tpu'"),
    (["train", "mlp", "--data", "xor", "compile=maybe"], "expected a boolean"),
    (["train", "mlp", "--data", "xor", "augment=flipx"], "did you mean 'flip'?"),
    (["train", "mlp", "--data", "xor", "resume=true"], "resume=true needs checkpoint_dir"),
    (["train", "mlp", "--data", "xor", "seed=x"], "seed='x'"),
    (["train", "mlp", "--data", "xor", "num_classes=1"], "num_classes=1: set by the data set"),
    (["train", "mlp", "--data", "xor", "num_classes=3"], "num_classes=3: set by the data set"),
    (["train", "mlp", "--data", "xor", "input_shape=5"], "input_shape=5: set by the data set"),
    (["train", "parnet_s", "--data", "xor"], "needs 3 dims"),
    (["train", "cnn2d", "--data", "xor"], "needs 3 dims"),
    (["train", "mlp", "--data", "xor", "replicas=0"], "replicas=0"),
    (["train", "mlp", "--data", "xor", "noise=-1"], "noise=-1.0"),
    (["inspect", "mlp", "depth=x"], "depth='x'"),
    (["inspect", "resnet_cifar", "depth=7"], "6n+2"),
    (["inspect", "parnet_s", "input_shape=3,48,48"], "divisible by 32"),
    (["inspect", "parnet_s", "width=0"], "width=0"),
    (["doctor", "mlpp"], "did you mean 'mlp'?"),
    (["data", "show", "nosuch"], "unknown dataset 'nosuch'"),
    (["data", "show", "xor", "foo=1"], "unknown option for XorOptions 'foo'"),
    (["data", "show", "xor", "--seed", "abc"], "Invalid value for '--seed'"),
    (["data", "show", "cifar10", "root=nowhere"], "no cifar10 files in nowhere"),
    (["data", "show", "imagefolder", "root=nowhere"], "image folder nowhere does not exist"),
    (["data", "fetch", "nosuch"], "unknown dataset to fetch 'nosuch'"),
    (["study", "nosuch", "--out", "out"], "unknown study 'nosuch'"),
    (["study", "--quick", "--full", "--out", "out"], "--quick and --full: choose one"),
    (["study", "depth", "--workers", "-1", "--out", "out"], "workers=-1: must be >= 1"),
    (["study", "depth", "--backend", "spark", "--out", "out"], "unknown backend 'spark'"),
    (["study", "depth", "--data", "nosuch", "--out", "out"], "unknown dataset 'nosuch'"),
    (["study", "depth", "--workers", "two", "--out", "out"], "Invalid value for '--workers'"),
    (["reparam", "missing_dir", "out/x"], "no such checkpoint"),
    (["reference", "xor", "--norm", "weird"], "unknown norm 'weird'"),
    (["reference", "xor", "--activation", "foo"], "unknown activation 'foo'"),
    (["reference", "xor", "--depth", "0"], "depth must be at least 2"),
]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders)."""
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))
    }


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, expected: str) -> None:
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("depthlab: error: "), err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("argv, expected", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(argv, expected, workdir, capsys):
    before = snapshot(workdir)
    code, out, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, expected)
    assert snapshot(workdir) == before


# ---- malformed files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", sorted(CHECKPOINT_DAMAGE))
def test_broken_checkpoint_is_one_clear_error_for_the_api_and_the_cli(damage, workdir, capsys):
    marker = workdir / "code-ran"
    folder = broken_checkpoint(workdir / "ckpt", damage, marker)
    with pytest.raises(DepthlabError, match="checkpoint|latest.json"):
        load_checkpoint(folder)
    before = snapshot(workdir)
    code, _, err = run_cli(["reparam", "ckpt", "out/deploy", "--model", "parnet_s"], capsys)
    assert_one_line_error(code, err, "ckpt")
    assert snapshot(workdir) == before and not marker.exists()


CIFAR_MESSAGES = {
    "malicious_global": "refusing to unpickle posix.system",
    "truncated": "not a readable pickle",
    "not_a_pickle": "not a readable pickle",
    "wrong_image_size": "expected (N, 3072)",
    "label_count_mismatch": "with 3 labels",
    "label_out_of_range": "labels span 0..17",
    "a_list_not_a_dict": "expected a dict",
}


@pytest.mark.parametrize("damage", sorted(CIFAR_DAMAGE))
def test_broken_cifar_file_is_one_clear_error(damage, workdir, capsys):
    marker = workdir / "code-ran"
    broken_cifar10(workdir / "cifar", damage, marker)
    before = snapshot(workdir)
    code, _, err = run_cli(["data", "show", "cifar10", "root=cifar"], capsys)
    assert_one_line_error(code, err, CIFAR_MESSAGES[damage])
    assert snapshot(workdir) == before and not marker.exists()


@pytest.mark.parametrize("damage", sorted(MNIST_DAMAGE))
def test_broken_idx_file_is_one_clear_error(damage, workdir):
    broken_mnist(workdir / "mnist", damage)
    before = snapshot(workdir)
    with pytest.raises(DepthlabError, match="idx|match|truncated|magic|bytes|header"):
        load_dataset("mnist", root="mnist")
    assert snapshot(workdir) == before


def test_corrupt_image_in_an_image_folder_is_one_clear_error(workdir, capsys):
    (workdir / "images" / "train" / "cat").mkdir(parents=True)
    (workdir / "images" / "train" / "cat" / "a.png").write_bytes(b"not a png")
    code, _, err = run_cli(["data", "show", "imagefolder", "root=images"], capsys)
    assert_one_line_error(code, err, "a.png: cannot read image")


@pytest.mark.parametrize("payload", [b"not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 200])
def test_a_results_file_that_is_not_a_database_is_one_clear_error(payload, workdir, capsys):
    broken_database(workdir / "study", payload)
    before = snapshot(workdir)
    code, _, err = run_cli(["study", "depth", "--report-only", "--out", "study"], capsys)
    assert_one_line_error(code, err, "cannot open results database")
    assert snapshot(workdir) == before


# ---- the Python API --------------------------------------------------------------------------------------

API_CASES = {
    "unfused ParNet at 48x48": lambda: create_model("parnet_s", input_shape=(3, 48, 48))(
        torch.zeros(1, 3, 48, 48)
    ),
    "resnet_cifar depth 7": lambda: create_model("resnet_cifar", depth=7),
    "mlp with a string depth": lambda: create_model("mlp", depth="deep"),
    "mlp with a list width": lambda: create_model("mlp", width=[8, 8]),
    "mlp with a boolean depth": lambda: create_model("mlp", depth=True),
    "unknown model": lambda: create_model("resnet_cifarr"),
    "xor with a text replica count": lambda: load_dataset("xor", replicas="many"),
    "xor with a text seed": lambda: load_dataset("xor", seed="s"),
    "train config with a dict lr": lambda: cfg.build(TrainConfig, {"lr": {"a": 1}}),
    "train config with a list epochs": lambda: cfg.build(TrainConfig, {"epochs": [1, 2]}),
    "a data seed beyond 64-bit generator seeds": lambda: load_dataset("circle", seed=10**20),
    "an MNIST-1D data_seed beyond numpy's": lambda: dataset_options("mnist1d", data_seed=2**32),
}


@pytest.mark.parametrize("case", sorted(API_CASES))
def test_api_bad_input_is_a_depthlab_error(case):
    with pytest.raises(DepthlabError):
        API_CASES[case]()


# ---- real processes: the console script prints one line and exits 2 ----------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "mlpp"], "did you mean 'mlp'?"),
        (["train", "mlp", "--data", "xor", "lr=fast"], "lr='fast'"),
        (["study", "nosuch"], "unknown study 'nosuch'"),
    ],
)
def test_real_process_prints_one_line_and_exits_2(argv, expected, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "depthlab.cli", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()] and expected in done.stderr
    assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == []


# ---- fuzzing ---------------------------------------------------------------------------------------------

GARBAGE = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(-3, 300), max_size=4),
    st.sampled_from(
        [
            "none",
            "null",
            "1e3",
            "-0",
            "nan",
            "inf",
            "1,2,3",
            "true",
            "relu",
            "batch",
            " 8 ",
            "0x10",
            "1_000",
            "3,48,48",
            "he_normal",
            "sgd",
        ]
    ),
)
MODELS = [name for name in list_models() if not name.startswith(("resnet18", "resnet34", "resnet50"))]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _plausible(tp: Any) -> st.SearchStrategy:
    """Values a user would type for a field of type ``tp``, as text or as JSON would give them: many are
    valid, so the fuzzers check the configs that do get built, not only the errors."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        options = [_plausible(a) for a in args if a is not type(None)]
        return st.one_of(*options, *([st.just("none")] if type(None) in args else []))
    if origin is Literal:
        return st.sampled_from([str(a) for a in args])
    if origin is tuple:
        return st.lists(st.integers(1, 8), min_size=1, max_size=3).map(lambda xs: ",".join(map(str, xs)))
    numbers = {bool: st.booleans(), int: st.integers(0, 64), float: st.floats(0, 1)}
    if tp in numbers:
        return numbers[tp] | numbers[tp].map(lambda v: str(v).lower())
    return GARBAGE


def _fields_and_noise(cls: type) -> st.SearchStrategy:
    """Garbage under field names and made-up keys, or plausible values under a few field names."""
    types_ = cfg.field_types(cls)
    noise = st.dictionaries(
        st.one_of(st.sampled_from(sorted(types_)), st.text(max_size=6)), GARBAGE, max_size=4
    )
    keys = st.lists(st.sampled_from(sorted(types_)), unique=True, max_size=3)
    plausible = keys.flatmap(lambda ks: st.fixed_dictionaries({k: _plausible(types_[k]) for k in ks}))
    return noise | plausible


def _same(built: object, expected: object) -> bool:
    """Equal, NaN counting as equal to NaN."""
    if isinstance(built, float) and isinstance(expected, float) and math.isnan(built):
        return math.isnan(expected)
    return built == expected


def _holds_the_given_values(config: object, overrides: dict) -> None:
    """Every override that names a field is in the config as the one coercer reads it (no value dropped,
    defaulted or altered on the way)."""
    types = cfg.field_types(type(config))
    for key in overrides.keys() & types.keys():
        assert _same(getattr(config, key), cfg.coerce(key, overrides[key], types[key])), (key, config)


def _one_line_naming_a_key(err: DepthlabError, keys: set) -> None:
    """One line that names one of ``keys`` (the keys given, and the fields a required one may be missing
    from)."""
    message = str(err)
    assert message and "\n" not in message
    assert any(str(key) in message or repr(key) in message for key in keys), (message, keys)


def _valid_or_depthlab_error(make, cls: type, overrides: dict) -> None:
    """``make()`` builds a ``cls`` that holds every given value, or raises one DepthlabError of one line that
    names a key."""
    try:
        config = make()
    except DepthlabError as err:
        _one_line_naming_a_key(err, set(overrides) | set(cfg.field_types(cls)))
        return
    assert list(cfg.field_types(type(config))) == list(cfg.field_types(cls))  # a builder's class is made anew
    _holds_the_given_values(config, overrides)


@FUZZ
@given(name=st.sampled_from(MODELS), data=st.data())
def test_fuzz_model_configs_are_valid_or_a_depthlab_error(name, data):
    from depthlab.models.registry import MODELS as REGISTRY

    config_cls = REGISTRY.get(name).config_cls
    overrides = data.draw(_fields_and_noise(config_cls))
    _valid_or_depthlab_error(lambda: model_config(name, **overrides), config_cls, overrides)


@FUZZ
@given(overrides=_fields_and_noise(TrainConfig))
def test_fuzz_train_config_is_valid_or_a_depthlab_error(overrides):
    _valid_or_depthlab_error(lambda: cfg.build(TrainConfig, overrides), TrainConfig, overrides)


@FUZZ
@given(
    name=st.sampled_from(["xor", "spirals", "parity", "sawtooth", "mnist1d", "cifar10", "digits"]),
    data=st.data(),
)
def test_fuzz_data_options_are_valid_or_a_depthlab_error(name, data):
    from depthlab.data.registry import DATASETS

    options_cls = DATASETS.get(name).options_cls
    overrides = data.draw(_fields_and_noise(options_cls))
    _valid_or_depthlab_error(lambda: dataset_options(name, **overrides), options_cls, overrides)


@FUZZ
@given(
    pairs=st.lists(
        st.one_of(
            st.text(max_size=20),
            st.sampled_from(sorted(cfg.field_types(TrainConfig))).flatmap(
                lambda key: st.builds(
                    f"{key}={{}}".format,
                    st.text(max_size=10) | _plausible(cfg.field_types(TrainConfig)[key]).map(str),
                )
            ),
        ),
        max_size=5,
    )
)
def test_fuzz_cli_key_value_overrides_parse_and_route_or_raise_a_depthlab_error(pairs):
    from depthlab.train.launch import route_overrides

    try:
        parsed = cfg.parse_pairs(pairs)
    except DepthlabError as err:  # a pair without '=': the message quotes it
        assert "\n" not in str(err) and any(repr(p) in str(err) for p in pairs)
        return
    try:
        routed = route_overrides("mlp", "xor", parsed)
        built = [
            model_config("mlp", **routed[0]),
            cfg.build(TrainConfig, routed[1]),
            dataset_options("xor", **routed[2]),
        ]
    except DepthlabError as err:
        _one_line_naming_a_key(err, set(parsed))
        return
    assert {**routed[0], **routed[1], **routed[2]} == parsed  # every key routed, none twice
    for config, overrides in zip(built, routed, strict=True):
        _holds_the_given_values(config, overrides)


PLAY = "http://127.0.0.1:8765"


@functools.cache
def _play_client():
    """One in-process play app for every fuzzed request (validation builds configs and loads the toy data;
    it starts no job)."""
    from starlette.testclient import TestClient

    from depthlab.play.app import create_app

    client = TestClient(create_app(token="fuzz"), base_url=PLAY)
    client.headers.update({"x-depthlab-token": "fuzz", "origin": PLAY})
    return client


@FUZZ
@given(data=st.data())
def test_fuzz_play_settings_are_a_command_or_one_line_naming_a_key_never_a_500(data):
    from depthlab.data.registry import DATASETS
    from depthlab.models.registry import MODELS as REGISTRY

    classes = (REGISTRY.get("mlp").config_cls, TrainConfig, DATASETS.get("circle").options_cls)
    types_: dict = {}
    for cls in classes:  # a key two classes share goes to the first, as play routes it
        types_ = cfg.field_types(cls) | types_
    keys = data.draw(st.lists(st.sampled_from(sorted(types_)), unique=True, max_size=4))
    overrides = {k: data.draw(GARBAGE | _plausible(types_[k]), label=k) for k in keys}
    body = json.dumps({"settings": {"model": "mlp", "data": "circle", **overrides}})  # NaN, Infinity too
    r = _play_client().post("/api/validate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text  # validation answers; a 500 is a crash
    if "error" in r.json():
        names = set(overrides) | {field for cls in classes for field in cfg.field_types(cls)}
        _one_line_naming_a_key(DepthlabError(r.json()["error"]), names)
    else:
        given = [k for k, v in overrides.items() if v is not None and str(v).strip()]
        assert all(f" {k}=" in r.json()["command"] for k in given), (r.json(), overrides)


# ---- a user's own data and model ---------------------------------------------------------------------------

ROWS = "".join(f"{i % 7}.5,{'ab'[i % 2]},{'pos' if i % 3 else 'neg'}\n" for i in range(30))
OWN_BUILDER = (
    "from torch import nn\n"
    "def build(depth: int, width: int = 8, input_shape=(2,), num_classes=2):\n"
    "    return nn.Sequential(nn.Linear(input_shape[0], width), nn.Linear(width, num_classes))\n"
    "def failing(depth):\n"
    "    raise ValueError('no\\nway')\n"
    "def odd(depth):\n"
    "    return 'a string'\n"
    "def bare(depth):\n"
    "    return nn.Linear(2, 2)\n"
)
OWN_FILES = {
    "t.csv": "a,b,label\n" + ROWS,
    "empty.csv": "",
    "ragged.csv": "a,b,label\n1,x,pos\n2,y,neg,extra\n",
    "binary.csv": "\x00\x01\x02PNG" * 10,
    "gaps.csv": "a,b,label\n" + ROWS.replace("3.5,", ",", 2),
    "inf.csv": "a,b,label\n" + ROWS.replace("3.5,", "inf,", 1),
    "one_class.csv": "a,b,label\n" + "".join(f"{i},x,pos\n" for i in range(20)),
    "thin.csv": "a,b,label\n" + ROWS + "1.5,a,rare\n",
    "dates.csv": "day,a,label\n"
    + "".join(f"2020{s}01{s}{i + 1:02d},{i % 3},{'ab'[i % 2]}\n" for i, s in enumerate("-/" * 10)),
    "sheet.xlsx": "not a supported type",
    "constant.csv": "a,y\n" + "".join(f"{i % 4}.5,7\n" for i in range(20)),
    "nan_target.csv": "a,y\n" + "".join(f"{i % 4}.5,{'nan' if i == 3 else i / 3}\n" for i in range(20)),
    "inf_target.csv": "a,y\n" + "".join(f"{i % 4}.5,{'inf' if i == 3 else i / 3}\n" for i in range(20)),
    "ids.csv": "id,y\n" + "".join(f"r{i},{i / 3}\n" for i in range(20)),
    "nets.py": OWN_BUILDER,
}
TRAIN = ["train", "mlp", "steps=1", "--out", "out"]
ADVISE = ["advise", "--out", "out", "--depths", "1,2", "--steps", "40", "-q"]
OWN_CLI_CASES = [
    (
        [*TRAIN, "--data", "t.csv", "--target", "lable"],
        "unknown target column 'lable'; did you mean 'label'?",
    ),
    ([*TRAIN, "--data", "empty.csv", "--target", "label"], "empty.csv: the file is empty"),
    ([*TRAIN, "--data", "ragged.csv"], "ragged rows: line 3 has 4 fields, line 1 has 3"),
    ([*TRAIN, "--data", "binary.csv"], "not a text table"),
    ([*TRAIN, "--data", "gaps.csv"], "missing values in 1 column: 'a' (2); pass impute=mean"),
    ([*TRAIN, "--data", "gaps.csv", "--impute", "avg"], "unknown value for impute 'avg'"),
    ([*TRAIN, "--data", "inf.csv"], "infinite values in 'a' (1)"),
    ([*TRAIN, "--data", "t.csv", "--task", "ranking"], "unknown value for task 'ranking'"),
    ([*TRAIN, "--data", "one_class.csv", "--target", "label"], "has one class only ('pos')"),
    ([*TRAIN, "--data", "thin.csv"], "too few rows per class for a stratified split"),
    ([*TRAIN, "--data", "dates.csv"], "column 'day' mixes date forms"),
    ([*TRAIN, "--data", "sheet.xlsx"], "unknown data file type '.xlsx'"),
    ([*TRAIN, "--data", "missing.csv"], "data file 'missing.csv' does not exist"),
    (["train", "nope.py:build", "--data", "xor", "--out", "out"], "builder file 'nope.py' does not exist"),
    (
        ["train", "nets.py:biuld", "--data", "xor"],
        "unknown function in nets.py 'biuld'; did you mean 'build'?",
    ),
    (["train", "nets.py:failing", "depth=2", "--data", "xor"], "raised ValueError: no way"),
    (["train", "nets.py:odd", "depth=2", "--data", "xor"], "returned str, not a torch.nn.Module"),
    (["train", "nets.py:build", "depth=2", "widht=3", "--data", "xor"], "did you mean 'width'?"),
    (["study", "depth", "--data", "xor", "--target", "y", "--out", "out"], "--target: for a data file only"),
    ([*TRAIN, "--data", "xor", "--impute", "mean"], "--impute: for a data file only; 'xor' is a registered"),
    ([*TRAIN, "--target", "y"], "--target: for a data file only; the default is a registered data set"),
    (["study", "depth", "--data", "t.csv", "--target", "lable", "--out", "out"], "did you mean 'label'?"),
    (["study", "depth", "--model", "nets.py:biuld", "--out", "out"], "did you mean 'build'?"),
    (["inspect", "nets.py:bare", "depth=1"], "nets.py:bare: its input shape is unknown; pass --data"),
    (["doctor", "mlp", "--data", "t.csv", "--target", "lable"], "did you mean 'label'?"),
    (
        ["doctor", "mlp", "--target", "y"],
        "--target: for a data file only; 'mnist1d' is a registered data set",
    ),
    (["doctor", "nets.py:failing", "depth=2", "--data", "t.csv"], "raised ValueError: no way"),
    (["doctor", "nets.py:failing", "--data", "t.csv"], "builder nets.py:failing: set depth=... (no default)"),
    ([*ADVISE, "--data", "constant.csv", "--target", "y"], "target 'y' has one class only (7)"),
    ([*ADVISE, "--data", "nan_target.csv", "--target", "y"], "missing values in 1 column: 'y' (1)"),
    ([*ADVISE, "--data", "inf_target.csv", "--target", "y"], "infinite values in 'y' (1)"),
    ([*ADVISE, "--data", "ids.csv", "--target", "y"], "no feature columns besides the target 'y'"),
    ([*ADVISE, "--data", "xor", "--latency-ms", "0"], "latency_ms=0.0: must be > 0"),
    ([*ADVISE, "--data", "xor", "--latency-ms", "-1"], "latency_ms=-1.0: must be > 0"),
]


@pytest.mark.parametrize("argv, expected", OWN_CLI_CASES, ids=[" ".join(a) for a, _ in OWN_CLI_CASES])
def test_bad_own_data_or_builder_is_one_line_and_writes_nothing(argv, expected, workdir, capsys):
    for name, text in OWN_FILES.items():
        (workdir / name).write_text(text, encoding="latin-1")
    before = snapshot(workdir)
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, expected)
    assert snapshot(workdir) == before


OWN_API_CASES = {
    "X and y of different lengths": lambda tmp: __import__("depthlab.data").data.from_arrays(
        torch.zeros(5, 2), torch.zeros(4)
    ),
    "npz without y": lambda tmp: load_dataset(_npz(tmp, x=torch.zeros(4, 2).numpy())),
    "a file edited since planned": lambda tmp: load_dataset(_write(tmp, "t.csv"), sha256="0" * 64),
    "a damaged parquet file": lambda tmp: load_dataset(_write(tmp, "t.parquet", "PAR1 not really")),
    "a split column with odd values": lambda tmp: load_dataset(_write(tmp, "t.csv"), split_column="b"),
    "a torch Dataset of single tensors": lambda tmp: load_dataset(
        torch.utils.data.TensorDataset(torch.zeros(3))
    ),
    "a number as data": lambda tmp: load_dataset(42),
    "infinite features": lambda tmp: load_dataset(
        (torch.tensor([[1.0], [float("inf")]] * 5), torch.arange(10) % 2)
    ),
    "a torch Dataset of non-tensors": lambda tmp: load_dataset(_Words()),
}


class _Words(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int):
        return "a word", 0


def _write(tmp: Path, name: str, text: str | None = None) -> Path:
    (tmp / name).write_text(OWN_FILES.get(name, "") if text is None else text)
    return tmp / name


def _npz(tmp: Path, **arrays) -> Path:
    import numpy as np

    np.savez(tmp / "d.npz", **arrays)
    return tmp / "d.npz"


@pytest.mark.parametrize("case", sorted(OWN_API_CASES))
def test_bad_own_data_in_python_is_one_depthlab_error(case, tmp_path):
    with pytest.raises(DepthlabError) as err:
        OWN_API_CASES[case](tmp_path)
    assert "\n" not in str(err.value)


CSV_TEXT = st.text(alphabet=st.sampled_from(list('ab,1.5-\n"x\t ')), max_size=80)


@FUZZ
@given(text=CSV_TEXT, impute=st.sampled_from([None, "mean", "drop"]))
def test_fuzz_any_small_csv_loads_or_is_a_depthlab_error(text, impute, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    path.write_text(text)
    try:
        data = load_dataset(path, impute=impute)
    except DepthlabError:
        return
    assert all(torch.isfinite(s).all() for s in (data.x_train, data.x_val, data.x_test))


@FUZZ
@given(data=st.data())
def test_fuzz_builder_overrides_are_valid_or_a_depthlab_error(data, tmp_path_factory):
    from depthlab.models.registry import MODELS as REGISTRY

    path = tmp_path_factory.getbasetemp() / "fuzz_nets.py"
    if not path.exists():
        path.write_text(OWN_BUILDER)
    ref = f"{path}:build"
    config_cls = REGISTRY.get(ref).config_cls
    overrides = data.draw(_fields_and_noise(config_cls))
    _valid_or_depthlab_error(lambda: model_config(ref, **overrides), config_cls, overrides)


@FUZZ
@given(
    rows=st.integers(0, 14),
    y_rows=st.integers(0, 14),
    features=st.integers(1, 3),
    holes=st.lists(st.integers(0, 41), max_size=4),
    classes=st.integers(1, 4),
    impute=st.sampled_from([None, "mean", "median", "drop"]),
    task=st.sampled_from([None, "classification", "regression"]),
)
def test_fuzz_arrays_give_a_dataset_or_a_depthlab_error(rows, y_rows, features, holes, classes, impute, task):
    from depthlab.data import from_arrays

    x = torch.randn(rows, features)
    flat = x.view(-1)
    for i in (h for h in holes if h < flat.numel()):
        flat[i] = float("nan")
    y = torch.arange(y_rows) % classes
    try:
        data = from_arrays(x, y, impute=impute, task=task)
    except DepthlabError:
        return
    splits = (data.x_train, data.x_val, data.x_test)
    assert all(torch.isfinite(s).all() for s in splits)  # never a NaN handed on to training
