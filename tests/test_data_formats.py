"""File formats (CIFAR pickles, idx, image folders) and fetch, on tiny files built in the exact layouts."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import re
import struct
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from depthlab.data import download as fetch_module
from depthlab.data import image_folder_loader, load_dataset
from depthlab.data.cifar import safe_unpickle
from depthlab.data.idx import parse_idx
from depthlab.errors import DepthlabError

RNG = np.random.default_rng(0)


# ---- builders of real-format files -----------------------------------------------------------------------


def cifar_batch(n: int, label_key: str, num_classes: int, **extra) -> tuple[bytes, np.ndarray, np.ndarray]:
    data = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = list(RNG.integers(0, num_classes, n).tolist())
    batch = {
        "batch_label": "training batch",
        label_key: labels,
        "data": data,
        "filenames": [f"img_{i}.png" for i in range(n)],
        **extra,
    }
    return pickle.dumps(batch, protocol=2), data, np.array(labels)


def add_file(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def cifar10_tarball(path: Path, per_batch: int = 4) -> dict[str, np.ndarray]:
    """A cifar-10-python.tar.gz with 5 train batches and a test batch; returns the true arrays."""
    xs, ys = [], []
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            payload, data, labels = cifar_batch(per_batch, "labels", 10)
            add_file(tar, f"cifar-10-batches-py/{name}", payload)
            xs.append(data)
            ys.append(labels)
        meta = pickle.dumps({"label_names": ["a"] * 10}, protocol=2)
        add_file(tar, "cifar-10-batches-py/batches.meta", meta)
    return {
        "x_train": np.concatenate(xs[:5]),
        "y_train": np.concatenate(ys[:5]),
        "x_test": xs[5],
        "y_test": ys[5],
    }


def idx_bytes(array: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist_folder(root: Path, n_train: int = 12, n_test: int = 5, gz: bool = True):
    arrays = {
        "train-images-idx3-ubyte": RNG.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": RNG.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    root.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        payload = idx_bytes(array)
        (root / (name + ".gz" if gz else name)).write_bytes(gzip.compress(payload) if gz else payload)
    return arrays


def write_png_folder(root: Path, classes=("cat", "dog", "eel"), per_class: int = 5, size=(6, 4)):
    from PIL import Image

    images = {}
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = RNG.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
            images[(name, i)] = pixels
    return images


# ---- CIFAR ------------------------------------------------------------------------------------------


def test_cifar10_from_the_release_tarball(tmp_path):
    truth = cifar10_tarball(tmp_path / "cifar-10-python.tar.gz")
    data = load_dataset("cifar10", root=str(tmp_path), val_fraction=0)
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_test.shape == (4, 3, 32, 32)
    expected = torch.from_numpy(truth["x_train"].reshape(-1, 3, 32, 32)).float() / 255
    assert torch.equal(data.x_train, expected)
    assert torch.equal(data.y_train, torch.from_numpy(truth["y_train"]))
    # the first 1024 values of a row are the red plane, row-major
    assert data.x_test[1, 0, 0, 5] == truth["x_test"][1, 5] / 255
    assert data.x_test[1, 2, 31, 31] == truth["x_test"][1, 3071] / 255
    assert data.num_classes == 10 and data.x_train.dtype == torch.float32


def test_cifar10_from_the_extracted_folder_equals_the_tarball(tmp_path):
    cifar10_tarball(tmp_path / "cifar-10-python.tar.gz")
    from_tar = load_dataset("cifar10", root=str(tmp_path))
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz") as tar:
        tar.extractall(tmp_path / "extracted")
    from_folder = load_dataset("cifar10", root=str(tmp_path / "extracted"))
    assert torch.equal(from_tar.x_train, from_folder.x_train)
    assert torch.equal(from_tar.y_val, from_folder.y_val)


def test_cifar100_fine_and_coarse_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    train, _, fine = cifar_batch(6, "fine_labels", 100, coarse_labels=[3, 1, 4, 1, 5, 9])
    test, _, _ = cifar_batch(2, "fine_labels", 100, coarse_labels=[2, 6])
    (folder / "train").write_bytes(train)
    (folder / "test").write_bytes(test)
    fine_data = load_dataset("cifar100", root=str(tmp_path), val_fraction=0)
    coarse = load_dataset("cifar100", root=str(tmp_path), val_fraction=0, label_mode="coarse")
    assert fine_data.num_classes == 100 and coarse.num_classes == 20
    assert fine_data.y_train.tolist() == fine.tolist() and coarse.y_train.tolist() == [3, 1, 4, 1, 5, 9]


def test_truncated_cifar_tarball_names_the_file(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    cifar10_tarball(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DepthlabError, match="cifar-10-python.tar.gz.*(corrupt|truncated)"):
        load_dataset("cifar10", root=str(tmp_path))


def test_truncated_cifar_batch_names_the_file(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    payload, _, _ = cifar_batch(3, "labels", 10)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(payload)
    (folder / "data_batch_3").write_bytes(payload[:100])
    with pytest.raises(DepthlabError, match="data_batch_3: not a readable pickle"):
        load_dataset("cifar10", root=str(tmp_path))


def test_missing_cifar_files_say_how_to_get_them(tmp_path):
    with pytest.raises(DepthlabError, match=r"depthlab data fetch cifar10.*cifar-10-python\.tar\.gz"):
        load_dataset("cifar10", root=str(tmp_path))


class _Trap:
    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (str(self.target),))


def test_restricted_unpickler_refuses_code_and_runs_nothing(tmp_path):
    target = tmp_path / "should-not-exist"
    payload = pickle.dumps({"data": _Trap(target), "labels": []}, protocol=2)
    assert "mkdir" in str(payload)
    with pytest.raises(DepthlabError, match=r"evil_batch: refusing to unpickle posix\.mkdir|nt\.mkdir"):
        safe_unpickle(payload, "evil_batch")
    assert not target.exists()
    pickle.loads(payload)  # the same bytes with plain pickle do run code: the check above is not vacuous
    assert target.exists()


class _Python2Array:
    """Pickles like an array written by Python 2, whose raw data is a str (read back through latin1)."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __reduce__(self):
        rebuild, args, state = self.array.__reduce__()
        return rebuild, args, state[:-1] + (state[-1].decode("latin1"),)


def test_restricted_unpickler_reads_python2_style_array_state():
    data = RNG.integers(0, 256, (3, 3072), dtype=np.uint8)
    payload = pickle.dumps({"data": _Python2Array(data), "labels": [1, 2, 3]}, protocol=2)
    back = safe_unpickle(payload, "data_batch_1")
    assert np.array_equal(back["data"], data) and back["labels"] == [1, 2, 3]


def test_restricted_unpickler_still_reads_arrays_and_containers():
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    for protocol in (2, 4, 5):
        back = safe_unpickle(pickle.dumps({"a": array, "b": [1, "x", (2.5, None)]}, protocol=protocol), "f")
        assert np.array_equal(back["a"], array) and back["b"] == [1, "x", (2.5, None)]


# ---- idx (MNIST, Fashion-MNIST) ----------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_files_gzipped_or_not(tmp_path, name, gz):
    truth = write_mnist_folder(tmp_path, gz=gz)
    data = load_dataset(name, root=str(tmp_path), val_fraction=0)
    assert data.x_train.shape == (12, 1, 28, 28) and data.x_test.shape == (5, 1, 28, 28)
    assert torch.equal(data.x_train[:, 0], torch.from_numpy(truth["train-images-idx3-ubyte"]).float() / 255)
    assert data.y_test.tolist() == truth["t10k-labels-idx1-ubyte"].tolist()
    assert data.y_test.dtype == torch.int64


def test_idx_magic_numbers_and_big_endian():
    values = np.array([[1, -2], [70000, 3]], dtype=np.int32)
    payload = idx_bytes(values)
    assert payload[:4] == b"\x00\x00\x0c\x02"  # int32, 2 dimensions
    assert np.array_equal(parse_idx(payload, "x"), values)
    images = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    assert struct.unpack(">I", images[:4])[0] == 2051  # MNIST's published magic for image files
    assert struct.unpack(">I", idx_bytes(np.zeros(3, np.uint8))[:4])[0] == 2049  # and for label files


def test_bad_or_truncated_idx_names_the_file(tmp_path):
    write_mnist_folder(tmp_path, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DepthlabError, match="t10k-images-idx3-ubyte: idx file of .* bytes, expected"):
        load_dataset("mnist", root=str(tmp_path))
    path.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 20)
    with pytest.raises(DepthlabError, match="t10k-images-idx3-ubyte: not an idx file"):
        load_dataset("mnist", root=str(tmp_path))


def test_truncated_gzip_names_the_file(tmp_path):
    write_mnist_folder(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:15])
    with pytest.raises(DepthlabError, match="train-labels-idx1-ubyte.gz: corrupt or truncated gzip"):
        load_dataset("mnist", root=str(tmp_path))


def test_default_root_is_under_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHLAB_CACHE", str(tmp_path))
    write_mnist_folder(tmp_path / "data" / "fashion_mnist")
    assert len(load_dataset("fashion_mnist", val_fraction=0).x_train) == 12


# ---- ImageFolder ----------------------------------------------------------------------------------------


def test_image_folder_reads_pngs_with_class_per_folder(tmp_path):
    images = write_png_folder(tmp_path)
    data = load_dataset("imagefolder", root=str(tmp_path), val_fraction=0)
    assert data.meta["classes"] == ["cat", "dog", "eel"] and data.num_classes == 3
    assert data.x_train.shape == (12, 3, 4, 6) and data.x_test.shape == (3, 3, 4, 6)
    assert torch.equal(torch.bincount(data.y_test), torch.ones(3, dtype=torch.int64))
    everything = torch.cat([data.x_train, data.x_test])
    labels = torch.cat([data.y_train, data.y_test])
    for (name, _), pixels in images.items():
        expected = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
        match = (everything == expected).flatten(1).all(dim=1)
        assert match.sum() == 1 and labels[match].item() == ["cat", "dog", "eel"].index(name)


def test_image_folder_train_test_folders_grey_and_resize(tmp_path):
    write_png_folder(tmp_path / "train", per_class=2)
    write_png_folder(tmp_path / "test", per_class=1)
    data = load_dataset("imagefolder", root=str(tmp_path), val_fraction=0, mode="L", size=8)
    assert data.x_train.shape == (6, 1, 8, 8) and data.x_test.shape == (3, 1, 8, 8)


def test_image_folder_errors_name_the_file(tmp_path):
    write_png_folder(tmp_path)
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DepthlabError, match="broken.png: cannot read image"):
        load_dataset("imagefolder", root=str(tmp_path))
    (tmp_path / "dog" / "broken.png").unlink()
    write_png_folder(tmp_path, classes=("eel",), per_class=1, size=(5, 5))
    with pytest.raises(DepthlabError, match="0.png: size .* differs .*size=N"):
        load_dataset("imagefolder", root=str(tmp_path))


def test_image_folder_too_big_for_memory_points_to_the_loader(tmp_path):
    write_png_folder(tmp_path)
    with pytest.raises(DepthlabError, match="max_in_memory_bytes=1000.*image_folder_loader"):
        load_dataset("imagefolder", root=str(tmp_path), max_in_memory_bytes=1000)  # needs 15*3*4*6*4 = 4320


def test_image_folder_loader_streams_uint8_batches(tmp_path):
    write_png_folder(tmp_path)
    in_memory = load_dataset("imagefolder", root=str(tmp_path), val_fraction=0)
    loader = image_folder_loader(tmp_path, split="all", batch_size=4, shuffle=False, num_workers=0)
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [4, 4, 4, 3] and batches[0][0].dtype == torch.uint8
    streamed = torch.cat([b[0] for b in batches]).float() / 255
    everything = torch.cat([in_memory.x_train, in_memory.x_test])
    assert torch.equal(_sorted_rows(streamed), _sorted_rows(everything))
    with pytest.raises(DepthlabError, match="split"):
        image_folder_loader(tmp_path, split="test")


def _sorted_rows(x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(1)
    return flat[torch.argsort(flat[:, 0] * 1e6 + flat[:, 1] * 1e3 + flat[:, 2])]


# ---- fetch ----------------------------------------------------------------------------------------------


def _file_source(monkeypatch, path: Path, name: str, sha: str | None = None, extract=True):
    sha = sha or hashlib.sha256(path.read_bytes()).hexdigest()
    remote = fetch_module.RemoteFile(path.name, sha, (path.as_uri(),), extract=extract)
    monkeypatch.setitem(fetch_module.SOURCES, name, (remote,))


def test_fetch_downloads_checks_and_extracts(tmp_path, monkeypatch):
    served = tmp_path / "server"
    served.mkdir()
    truth = cifar10_tarball(served / "cifar-10-python.tar.gz")
    _file_source(monkeypatch, served / "cifar-10-python.tar.gz", "cifar10")
    root = fetch_module.fetch("cifar10", tmp_path / "data")
    assert (root / "cifar-10-batches-py" / "test_batch").is_file()
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp files left
    (root / "cifar-10-python.tar.gz").unlink()  # the extracted folder alone is enough
    data = load_dataset("cifar10", root=str(root), val_fraction=0)
    assert torch.equal(data.y_test, torch.from_numpy(truth["y_test"]))


def test_fetch_checksum_mismatch_discards_the_file(tmp_path, monkeypatch):
    (tmp_path / "payload.gz").write_bytes(b"tampered")
    _file_source(monkeypatch, tmp_path / "payload.gz", "mnist", sha="0" * 64, extract=False)
    with pytest.raises(DepthlabError, match="SHA-256 .* does not match the pinned 0000"):
        fetch_module.fetch("mnist", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_fetch_offline_says_where_to_put_the_files(tmp_path):
    def offline(url):
        raise urllib.error.URLError("no network")

    with pytest.raises(DepthlabError) as err:
        fetch_module.fetch("mnist", tmp_path, opener=offline)
    message = str(err.value)
    assert "\n" not in message and "no network" in message
    assert "put train-images-idx3-ubyte.gz (sha256 440fcabf73cc..., from https://" in message
    assert "t10k-labels-idx1-ubyte.gz (sha256 f7ae60f92e00..., from https://" in message
    assert message.endswith(f"in {tmp_path} and run this again")


def test_fetch_refuses_archive_members_that_escape(tmp_path, monkeypatch):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_file(tar, "../escaped.txt", b"x")
    _file_source(monkeypatch, archive, "cifar10")
    with pytest.raises(DepthlabError, match="unsafe member '../escaped.txt'"):
        fetch_module.fetch("cifar10", tmp_path / "root")
    assert not (tmp_path / "escaped.txt").exists()


def test_fetch_unknown_name():
    with pytest.raises(DepthlabError, match="unknown dataset to fetch 'cifar1'; did you mean"):
        fetch_module.fetch("cifar1")


def test_pinned_checksums_are_well_formed():
    remotes = [remote for files in fetch_module.SOURCES.values() for remote in files]
    for remote in remotes:
        assert re.fullmatch("[0-9a-f]{64}", remote.sha256), remote.name  # what hexdigest() gives
        assert remote.urls and all(url.endswith(remote.name) for url in remote.urls), remote.name
    assert len({r.sha256 for r in remotes}) == len(remotes)  # no checksum pasted onto a second file
