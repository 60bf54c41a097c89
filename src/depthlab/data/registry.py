"""The data-set registry: ``load_dataset(name, seed=0, **opts)`` and ``list_datasets(pattern)``.

Each entry pairs a dataclass of options with a loader ``(options, seed) -> Dataset``, so a data set is fully
described by ``(name, options dict, seed)`` and a study grid can list it as plain values. The same loader can
be registered under several names with different defaults (``mnist1d`` and ``mnist1d_shuffled``).

A name that is not registered but is a path (a CSV / TSV / Parquet / .npz / .npy file or an image folder)
resolves to an entry for that file (``depthlab.data.user.entry_for``), so every caller of the registry takes
paths too; ``load_dataset`` also takes data given in Python: ``(X, y)``, a torch Dataset, a Hugging Face
dataset (``depthlab.data.user.load_object``). The built-in data sets are listed at the end of this file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from depthlab import config as cfg
from depthlab.data import cifar, idx, imagefolder, mnist1d, sequences, shapeset, small_images, synthetic, text
from depthlab.data.dataset import Dataset, DatasetEntry, Loader
from depthlab.data.download import FileOptions
from depthlab.data.user import TEXT_SUFFIXES, entry_for, load_object, looks_like_path, resolve, source_sha256
from depthlab.errors import DepthlabError, unknown
from depthlab.registry import Registry


class DatasetRegistry(Registry[DatasetEntry]):
    """The registry, plus paths: ``get("my.csv")`` is the entry of that file."""

    def get(self, name: str) -> DatasetEntry:
        if name not in self._items and looks_like_path(name):
            return entry_for(name)
        if name not in self._items:
            listed = str(unknown(self.kind, name, self._items)).rstrip(")")
            raise DepthlabError(
                f"{listed}; or a path to a .csv/.tsv/.parquet/.npz/.npy/.txt file or image folder)"
            )
        return super().get(name)

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or looks_like_path(name)


DATASETS = DatasetRegistry("dataset")


def register_dataset(
    name: str, options_cls: type, *, layout: str = "any", **defaults: Any
) -> Callable[[Loader], Loader]:
    """Decorator: register a loader ``(options, seed) -> Dataset`` under ``name`` with option defaults;
    ``layout="image"`` marks data sets whose examples are (C, H, W) images."""

    def decorator(load: Loader) -> Loader:
        DATASETS.register(name, DatasetEntry(options_cls, load, defaults, layout))
        return load

    return decorator


def dataset_options(name: str, **opts: Any):
    """The resolved options dataclass of data set ``name`` (strings are coerced by field type)."""
    entry = DATASETS.get(name)
    return cfg.build(entry.options_cls, opts, **entry.defaults)


def load_dataset(
    name: Any,
    seed: int = 0,
    *,
    target: str | None = None,
    task: str | None = None,
    impute: str | None = None,
    **opts: Any,
) -> Dataset:
    """Load a data set as tensors: a registered name, a path, or ``(X, y)`` / a torch or Hugging Face dataset.

    ``target``, ``task`` and ``impute`` apply to a user's own data (docs/data.md); the same name, options and
    seed give identical tensors.
    """
    own = {k: v for k, v in (("target", target), ("task", task), ("impute", impute)) if v is not None}
    if own and str(name).lower().endswith(TEXT_SUFFIXES):
        check_file_options(name, own)  # one line saying a .txt file is text, not "unknown option"
    opts = {**opts, **own}
    if not isinstance(name, (str, Path)):
        return load_object(name, seed=cfg.coerce("seed", seed, int), **opts)
    name = str(name)
    entry = DATASETS.get(name)
    options = cfg.build(entry.options_cls, opts, **entry.defaults)
    seed = cfg.coerce("seed", seed, int)
    data = entry.load(options, seed)
    data.meta.setdefault("options", cfg.as_dict(options))
    data.meta.setdefault("seed", seed)
    return data


def list_datasets(pattern: str = "*") -> list[str]:
    """Registered data-set names matching a shell pattern."""
    return DATASETS.names(pattern)


def data_sha256(name: object) -> str | None:
    """The sha256 of the data a name refers to when it is a path (what studies key runs on), else None."""
    if not looks_like_path(name) or (isinstance(name, str) and name in DATASETS.names()):
        return None
    return source_sha256(resolve(name))


def is_data_file(name: object) -> bool:
    """Whether ``name`` is a user's file or folder rather than a registered data set."""
    return isinstance(name, (str, Path)) and str(name) not in DATASETS.names() and looks_like_path(name)


def check_file_options(name: object, options: dict[str, Any]) -> None:
    """``target`` / ``task`` / ``impute`` / ``dates`` apply to a data file only: one line when given for
    another."""
    given = [k for k in ("target", "task", "impute", "dates") if options.get(k) is not None]
    flags = "/".join(f"--{k}" for k in given)
    if given and not is_data_file(name):
        what = repr(name) if name else "the default"
        raise DepthlabError(f"{flags}: for a data file only; {what} is a registered data set")
    if given and str(name).lower().endswith(TEXT_SUFFIXES):
        raise DepthlabError(
            f"{flags}: {name} is read as text for a language model; "
            "a table saved as .txt needs a .csv/.tsv name"
        )


register_dataset("xor", synthetic.XorOptions, val_fraction=0.0)(synthetic.load_xor)
register_dataset("spirals", synthetic.SpiralsOptions)(synthetic.load_spirals)
register_dataset("parity", synthetic.ParityOptions)(synthetic.load_parity)
register_dataset("sawtooth", synthetic.SawtoothOptions)(synthetic.load_sawtooth)
register_dataset("circle", synthetic.Toy2DOptions, val_fraction=0.0)(synthetic.load_circle)
register_dataset("xor2d", synthetic.Toy2DOptions, val_fraction=0.0)(synthetic.load_xor2d)
register_dataset("gauss", synthetic.Toy2DOptions, val_fraction=0.0)(synthetic.load_gauss)
register_dataset("spiral2d", synthetic.Toy2DOptions, val_fraction=0.0)(synthetic.load_spiral2d)
register_dataset("shapeset", shapeset.ShapesetOptions, layout="image")(shapeset.load_shapeset)
register_dataset("mnist1d", mnist1d.MNIST1DOptions)(mnist1d.load_mnist1d)
register_dataset("mnist1d_shuffled", mnist1d.MNIST1DOptions, shuffle=True)(mnist1d.load_mnist1d_shuffled)
register_dataset("digits", small_images.HeldOutOptions, layout="image")(small_images.load_digits_dataset)
register_dataset("digits_shuffled", small_images.HeldOutOptions, layout="image", shuffle=True)(
    small_images.load_digits_shuffled
)
register_dataset("mnist5k", small_images.HeldOutOptions, layout="image")(small_images.load_mnist5k)
register_dataset("mnist", FileOptions, layout="image")(idx.load_mnist)
register_dataset("fashion_mnist", FileOptions, layout="image")(idx.load_fashion_mnist)
register_dataset("cifar10", FileOptions, layout="image")(cifar.load_cifar10)
register_dataset("cifar100", cifar.Cifar100Options, layout="image")(cifar.load_cifar100)
register_dataset("chars", text.TextOptions)(text.load_chars)
register_dataset("bit_parity", sequences.BitParityOptions)(sequences.load_bit_parity)
register_dataset("mod_add", sequences.ModAddOptions)(sequences.load_mod_add)
register_dataset("recall", sequences.RecallOptions)(sequences.load_recall)
register_dataset("brackets", sequences.BracketsOptions)(sequences.load_brackets)
register_dataset("imagefolder", imagefolder.ImageFolderOptions, layout="image")(imagefolder.load_image_folder)
