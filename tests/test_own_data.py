"""A user's own data: tables (CSV / TSV / Parquet), arrays (.npz / .npy, from_arrays), a torch Dataset and a
Hugging Face dataset, through ``load_dataset`` by path or object.

Oracles: statistics recomputed by hand from the training rows (standardization, imputation, categories), the
file's sha256 from hashlib, class proportions of the stratified split, and a learning test on the wine table
that scikit-learn ships as CSV (178 rows, 13 numeric columns, 3 cultivars; linear models reach ~97% on it).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from depthlab.data import describe, from_arrays, from_torch, load_dataset
from depthlab.data.registry import data_sha256
from depthlab.data.splits import seeded_parts

N = 120


def _people(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, N)
    city = rng.choice(["oslo", "rome", "lima"], N)
    return pd.DataFrame(
        {
            "user_id": [f"u{i:04d}" for i in range(N)],
            "age": age,
            "city": city,
            "member": rng.choice([True, False], N),
            "spend": 3.0 * age + np.where(city == "rome", 50.0, 0.0) + rng.normal(0, 1, N),
        }
    )


@pytest.fixture
def people_csv(tmp_path) -> Path:
    path = tmp_path / "people.csv"
    _people().to_csv(path, index=False)
    return path


def test_a_csv_is_encoded_with_training_statistics_and_the_record_says_what_was_done(people_csv):
    data = load_dataset(str(people_csv), target="spend")
    meta, frame = data.meta, _people()
    assert data.task == "regression" and data.num_classes == 1
    assert meta["file"] == str(people_csv.resolve())
    assert meta["sha256"] == hashlib.sha256(people_csv.read_bytes()).hexdigest()
    assert meta["rows"] == N and meta["columns"] == ["age", "city", "member"]
    assert any("'user_id'" in note and "identifier" in note for note in meta["notes"])
    assert meta["encodings"]["city"] == {"kind": "one-hot", "categories": ["lima", "oslo", "rome"]}
    # features: age, city one-hot (3), member -> 5; the training rows' age is standardized exactly
    assert data.input_shape == (5,)
    assert data.x_train[:, 0].mean().item() == pytest.approx(0.0, abs=1e-5)
    assert data.x_train[:, 0].std(correction=0).item() == pytest.approx(1.0, abs=1e-5)
    train_ages = frame["age"].to_numpy()[_rows_of(data.x_train[:, 0], frame["age"], meta)]
    assert meta["encodings"]["age"]["mean"] == pytest.approx(train_ages.mean())
    assert data.x_test[:, 1:4].sum(1).eq(1).all()  # one-hot: exactly one city per row
    assert data.y_train.mean().item() == pytest.approx(0.0, abs=1e-5)  # standardized target
    lines = describe(meta)
    assert "people.csv" in lines[0] and meta["sha256"][:12] in lines[0] and "120 rows" in lines[0]


def _rows_of(standardized: torch.Tensor, ages: pd.Series, meta: dict) -> np.ndarray:
    """Which original rows a split holds, recovered by inverting the recorded standardization."""
    enc = meta["encodings"]["age"]
    raw = standardized.double().numpy() * enc["std"] + enc["mean"]
    return np.array([int(np.argmin(np.abs(ages.to_numpy() - v))) for v in raw])


def test_categories_come_from_the_training_rows_only(tmp_path):
    frame = pd.DataFrame({"x": np.arange(40.0) % 7, "kind": ["a", "b"] * 19 + ["zz", "zz"]})
    frame["y"] = ["p", "q"] * 20
    frame["split"] = ["train"] * 38 + ["test"] * 2
    path = tmp_path / "t.tsv"
    frame.to_csv(path, sep="\t", index=False)
    data = load_dataset(path, target="y", split_column="split")
    assert data.meta["encodings"]["kind"]["categories"] == ["a", "b"]  # 'zz' is only in the test rows
    assert data.x_test[:, 1:].abs().sum().item() == 0.0  # so it encodes as all zeros
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (38, 0, 2)


def test_task_is_inferred_from_the_target_and_can_be_overridden(people_csv):
    frame = _people()
    frame["level"] = (frame["age"] // 20).astype(int)
    path = people_csv.with_name("levels.csv")
    frame.to_csv(path, index=False)
    assert load_dataset(path, target="city").task == "classification"
    assert load_dataset(path, target="level").task == "classification"
    assert load_dataset(path, target="age").task == "regression"
    as_numbers = load_dataset(path, target="level", task="regression")
    assert as_numbers.task == "regression" and as_numbers.y_train.dtype == torch.float32


def test_splits_are_seeded_stratified_and_the_test_rows_fixed(people_csv):
    a, b, c = (load_dataset(people_csv, target="city", seed=s) for s in (0, 0, 1))
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.x_train, b.x_train)
    assert not torch.equal(a.x_val, c.x_val)
    assert torch.equal(a.y_test, c.y_test)  # the same held-out test rows for every seed
    full = torch.cat([a.y_train, a.y_val, a.y_test]).bincount().double() / N
    test = a.y_test.bincount(minlength=3).double() / len(a.y_test)
    assert (test - full).abs().max().item() <= 1.0 / len(a.y_test) + 1e-9


def test_missing_values_imputed_by_the_training_mean(tmp_path):
    frame = pd.DataFrame(
        {"x": np.arange(30.0), "y": ["a", "b", "c"] * 10, "split": ["train"] * 20 + ["test"] * 10}
    )
    frame.loc[[3, 25], "x"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    data = load_dataset(path, target="y", split_column="split", impute="mean", standardize=False)
    train_mean = frame["x"][:20].mean()  # NaN skipped: the mean of the 19 known training values
    assert data.x_train[3, 0].item() == pytest.approx(train_mean)
    assert data.x_test[5, 0].item() == pytest.approx(train_mean)
    dropped = load_dataset(path, target="y", split_column="split", impute="drop")
    assert len(dropped.y_train) + len(dropped.y_test) == 28


def _gappy(rows: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """Float features on very different scales with about one value in eight missing, and a target."""
    rng = np.random.default_rng(4)
    x = rng.normal(5.0, 3.0, (rows, 3)) * np.array([1.0, 1000.0, 0.001])
    x[rng.random(x.shape) < 0.125] = np.nan
    return x, rng.normal(size=rows)


@pytest.mark.parametrize("impute", ["mean", "median"])
def test_a_csv_and_the_same_numbers_as_arrays_give_the_same_tensors(tmp_path, impute):
    x, y = _gappy()
    path = tmp_path / "gappy.csv"
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})
    frame.to_csv(path, index=False, float_format="%.17g")  # every float64 written exactly
    table = load_dataset(path, target="y", task="regression", impute=impute, seed=5)
    from_frame = load_dataset(frame, target="y", task="regression", impute=impute, seed=5)
    arrays = from_arrays(x, y, task="regression", impute=impute, seed=5)
    # the oracle: fill and standardize by the training rows alone, in float64, as numpy does it by hand
    train = seeded_parts(None, None, len(x), 0.2, 0.1, 5)["train"].numpy()
    # (one column at a time: a 1-D sum is pairwise, while numpy sums a row-major 2-D array down its rows
    # one by one, which can differ in the last bit)
    filled, expected = np.empty_like(x), np.empty_like(x, dtype=np.float32)
    for j, column in enumerate(x.T):
        fill = getattr(pd.Series(column[train]), impute)()  # pandas skips the missing values
        filled[:, j] = np.where(np.isnan(column), fill, column)
        kept = filled[train, j]
        expected[:, j] = (filled[:, j] - kept.mean()) / kept.std()
    assert np.isnan(x[train]).any() and np.isnan(np.delete(x, train, axis=0)).any()  # gaps on both sides
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(table, f"x_{split}"), getattr(arrays, f"x_{split}"))
        assert torch.equal(getattr(from_frame, f"x_{split}"), getattr(arrays, f"x_{split}"))
        assert torch.equal(getattr(table, f"y_{split}"), getattr(arrays, f"y_{split}"))
    np.testing.assert_array_equal(table.x_train.numpy(), expected[train])
    raw = from_arrays(x, y, task="regression", impute=impute, seed=5, standardize=False)
    np.testing.assert_array_equal(raw.x_train.numpy(), filled[train].astype(np.float32))  # the imputed values
    raw_table = load_dataset(path, target="y", task="regression", impute=impute, seed=5, standardize=False)
    assert torch.equal(raw_table.x_train, raw.x_train) and torch.equal(raw_table.x_test, raw.x_test)
    assert table.meta["encodings"]["a"]["mean"] == filled[train, 0].mean()


def test_npz_and_npy_arrays(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 4)).astype(np.float32), np.repeat([3, 7, 9], 20)
    np.savez(tmp_path / "d.npz", X=x, y=y)
    np.save(tmp_path / "d.npy", np.column_stack([x, y]))
    from_npz, from_npy = load_dataset(tmp_path / "d.npz"), load_dataset(str(tmp_path / "d.npy"))
    assert from_npz.meta["classes"] == ["3", "7", "9"] and from_npz.num_classes == 3
    assert torch.equal(from_npy.y_test, from_npz.y_test) and torch.allclose(from_npy.x_test, from_npz.x_test)
    raw = load_dataset(tmp_path / "d.npz", standardize=False)  # same rows, values as stored
    mean, std = raw.x_train.mean(0), raw.x_train.std(0, correction=0)
    assert torch.allclose(from_npz.x_test, (raw.x_test - mean) / std, atol=1e-5)  # training statistics
    assert not torch.allclose(from_npz.x_test.mean(0), torch.zeros(4), atol=1e-3)


def test_from_arrays_and_a_torch_dataset_agree():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 3, generator=gen), torch.arange(50) % 2
    arrays = from_arrays(x, y, seed=3)
    dataset = from_torch(torch.utils.data.TensorDataset(x, y), seed=3)
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(arrays, split), getattr(dataset, split))
    as_tuple = load_dataset((x.numpy(), y.numpy()), seed=3)
    assert torch.equal(as_tuple.x_test, arrays.x_test)


@pytest.mark.extra("parquet")
def test_parquet_reads_like_the_csv(people_csv, tmp_path):
    _people().to_parquet(tmp_path / "people.parquet")
    a, b = load_dataset(people_csv, target="city"), load_dataset(tmp_path / "people.parquet", target="city")
    assert torch.allclose(a.x_train, b.x_train, atol=1e-6) and torch.equal(a.y_test, b.y_test)


@pytest.mark.extra("hf")
def test_a_local_hugging_face_dataset(people_csv):
    import datasets

    frame = _people()
    hf = datasets.Dataset.from_pandas(frame)
    a, b = load_dataset(hf, target="city"), load_dataset(people_csv, target="city")
    assert torch.allclose(a.x_train, b.x_train, atol=1e-6) and torch.equal(a.y_test, b.y_test)
    splits = datasets.DatasetDict({"train": hf.select(range(100)), "test": hf.select(range(100, N))})
    kept = load_dataset(splits, target="city")
    assert (len(kept.y_train), len(kept.y_test)) == (100, N - 100)


def test_an_edited_file_has_a_new_content_hash(people_csv):
    before = data_sha256(str(people_csv))
    people_csv.write_text(people_csv.read_text().replace("oslo", "oslo2", 1))
    assert data_sha256(str(people_csv)) != before
    assert data_sha256("mnist1d") is None


def test_learning_on_the_wine_table_scikit_learn_ships_reaches_90_percent():
    import sklearn

    from depthlab.models import create_model
    from depthlab.train import fit

    path = Path(sklearn.__file__).parent / "datasets" / "data" / "wine_data.csv"  # first line: counts, names
    data = load_dataset(path, target="13", header=False, skip_rows=1)
    assert data.meta["rows"] == 178 and data.num_classes == 3 and data.input_shape == (13,)
    torch.manual_seed(0)
    model = create_model("mlp", depth=2, width=32, **data.model_kwargs())
    history = fit(model, data, epochs=30, batch_size=32, quiet=True)
    assert history.final["test_acc"] >= 0.90  # 36 held-out rows; depth-2 MLP reached 1.00 here


def test_an_image_folder_by_path(tmp_path):
    from PIL import Image

    for label, shade in (("cat", 40), ("dog", 200)):
        (tmp_path / "pets" / label).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (6, 6), shade + i).save(tmp_path / "pets" / label / f"{i}.png")
    data = load_dataset(str(tmp_path / "pets"), mode="L")
    assert data.input_shape == (1, 6, 6) and data.meta["classes"] == ["cat", "dog"]
    assert data.meta["rows"] == 10 and len(data.meta["sha256"]) == 64 and data.name == "pets"
    from depthlab.data.registry import DATASETS

    assert DATASETS.get(str(tmp_path / "pets")).layout == "image"  # image-only studies take it


def test_a_torch_dataset_too_big_for_memory_points_to_the_streaming_loader():
    from depthlab.data import torch_loader
    from depthlab.errors import DepthlabError

    x, y = torch.randn(40, 8), torch.arange(40) % 2
    dataset = torch.utils.data.TensorDataset(x, y)
    with pytest.raises(DepthlabError, match="stream it with depthlab.data.torch_loader"):
        from_torch(dataset, max_in_memory_bytes=40 * 8 * 4 - 1)  # one byte short of the float32 tensor
    assert len(from_torch(dataset, max_in_memory_bytes=40 * 8 * 4).y_train) > 0
    batches = list(torch_loader(dataset, batch_size=16, seed=0))
    assert [len(b[1]) for b in batches] == [16, 16, 8]
    seen = torch.cat([b[0] for b in batches])
    by_first = seen[seen[:, 0].argsort()]
    assert torch.equal(by_first, x[x[:, 0].argsort()]) and not torch.equal(
        seen, x
    )  # every row once, shuffled
