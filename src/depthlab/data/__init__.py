"""Data sets as tensors: synthetic tasks, MNIST-1D, bundled image sets, file formats, augmentation.

``load_dataset(name, seed=0, **opts)`` returns a :class:`Dataset`; ``list_datasets(pattern)`` lists the names;
``fetch(name)`` downloads a file-based set; ``image_folder_loader(root)`` streams folders too big for memory.
A user's own data: ``load_dataset("my.csv", target="y")`` (CSV/TSV/Parquet/.npz/.npy/image folder),
``from_arrays(X, y)``, ``from_torch(dataset)``, ``from_hf(dataset)``; ``describe(meta)`` says what was done.

Where to read a flow: ``registry`` (names, the built-in table) -> ``user`` (a path or an object) ->
``tables`` or ``arrays`` (features and targets) -> ``splits`` -> ``dataset``. A built-in set is one module
(``synthetic``, ``sequences``, ``text``, ``shapeset``, ``mnist1d``, ``small_images``, ``idx``, ``cifar``,
``imagefolder``); ``text`` is also a user's ``.txt`` file (language modelling, task ``lm``);
``download`` fetches and caches files; ``augment`` transforms batches on the device.
"""

from depthlab.data import augment  # the module: augment.augment(x, options, generator)
from depthlab.data.arrays import from_arrays
from depthlab.data.augment import AugmentOptions, device_generator
from depthlab.data.dataset import Dataset, describe
from depthlab.data.download import cache_dir, fetch
from depthlab.data.imagefolder import image_folder_loader
from depthlab.data.registry import DATASETS, dataset_options, list_datasets, load_dataset, register_dataset
from depthlab.data.user import from_hf, from_torch, torch_loader

__all__ = [
    "DATASETS",
    "AugmentOptions",
    "Dataset",
    "augment",
    "cache_dir",
    "dataset_options",
    "describe",
    "device_generator",
    "fetch",
    "from_arrays",
    "from_hf",
    "from_torch",
    "image_folder_loader",
    "list_datasets",
    "load_dataset",
    "register_dataset",
    "torch_loader",
]
