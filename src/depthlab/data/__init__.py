"""Data sets as tensors: synthetic tasks, MNIST-1D, small bundled image sets, file formats, augmentation.

``load_dataset(name, seed=0, **opts)`` returns a :class:`Dataset`; ``list_datasets(pattern)`` lists the names.
"""

from depthlab.data import mnist1d, small_images, synthetic  # noqa: F401,E402  (register the data sets)
from depthlab.data.dataset import Dataset
from depthlab.data.registry import DATASETS, dataset_options, list_datasets, load_dataset, register_dataset

__all__ = ["DATASETS", "Dataset", "dataset_options", "list_datasets", "load_dataset", "register_dataset"]
