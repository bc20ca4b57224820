"""Data set loaders: digits (embedded), Fashion-MNIST, MNIST, CIFAR-10, as NumPy arrays.

>>> from adamkit.data import load, DATASETS
>>> sorted(DATASETS)
['cifar10', 'digits', 'fashion-mnist', 'mnist']
>>> ds = load("digits", seed=0, validation=0.2)
>>> ds.x_train.dtype.name, ds.y_train.dtype.name, ds.input_shape
('float32', 'int64', (1, 8, 8))

Images are ``float32`` ``N x C x H x W`` in [0, 1]; labels ``int64``. Files are
searched for in ``root``, ``$ADAMKIT_DATA/<name>/``, the user cache and system
folders (Debian's ``dataset-fashion-mnist``), checked against known checksums,
and downloaded through pooch when absent (``download=True``). Anything missing
or corrupt raises :class:`DataError` with one paragraph saying where we looked
and how to get the data; a corrupt copy in the download folder, which a download
may replace, gives a :class:`DataWarning` naming the file instead.

Modules: ``registry`` (the data sets, their files, checksums and mirrors),
``locate`` (search order), ``checksums``, ``download`` (pooch, rich progress),
``idx`` and ``mnist`` (the IDX format and MNIST's four files), ``cifar`` (the
pickled CIFAR-10 archive), ``digits``, ``splits`` (stratified validation split).
"""

from .dataset import DataError, Dataset, DataWarning
from .loader import load
from .registry import DATASETS, DataFile, DatasetSpec

__all__ = ["DATASETS", "DataError", "DataFile", "DataWarning", "Dataset", "DatasetSpec", "load"]
