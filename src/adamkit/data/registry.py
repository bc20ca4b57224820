"""The data sets we know: shapes, classes, files, their checksums and where to get them.

Every checksum below is of the file as its publisher serves it, so a download
is verified byte for byte. Sources (cross-checked between independent lists):

* Fashion-MNIST ``.gz`` SHA-256: TensorFlow Datasets' ``url_checksums/fashion_mnist.txt``
  (also matches the MD5s in zalandoresearch/fashion-mnist's README).
  ``content_sha256`` (of the decompressed IDX file): computed from Debian's
  ``dataset-fashion-mnist`` files, whose deflate streams and CRCs are upstream's
  (Debian only stripped the file name and time from the gzip header, which makes
  each file 23-24 bytes shorter), and listed by other projects for the upstream files.
* MNIST ``.gz`` SHA-256: the values published with the ossci-datasets / cvdf mirrors
  (many independent projects agree); ``content_sha256`` likewise.
* CIFAR-10: the MD5 on https://www.cs.toronto.edu/~kriz/cifar.html and the SHA-256
  used by torchvision's prototype datasets.

A file found on disk passes if its own hashes match, if it is a gzip file whose
decompressed content matches ``content_sha256`` (a re-compressed copy, such as
Debian's), or if it is that content itself (decompressed). ``content_size`` (the IDX
header's size: 16 + N x 28 x 28 bytes of images, 8 + N of labels) bounds how far a
copy is decompressed. Files with no known hash are only checked for format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from . import cifar, digits, mnist


@dataclass(frozen=True)
class DataFile:
    """One file of a data set and the facts that identify it."""

    name: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None  # bytes as published
    content_sha256: str | None = None  # of the decompressed bytes, for gzip files
    content_size: int | None = None  # decompressed bytes: where decompressing a copy stops

    @property
    def known_hash(self) -> str | None:
        """The hash in pooch's ``"algorithm:hex"`` form, checked on download."""
        if self.sha256:
            return f"sha256:{self.sha256}"
        return f"md5:{self.md5}" if self.md5 else None


Decoder = Callable[["DatasetSpec", Mapping[str, bytes]], tuple[np.ndarray, ...]]


@dataclass(frozen=True)
class DatasetSpec:
    """A data set's description: what :func:`adamkit.data.load` needs to find and read it.

    ``mirrors`` are base URLs tried in order (file URL = mirror + file name);
    ``system_dirs`` are folders that packages install it to; ``decode`` turns the
    files' bytes (keyed by name) into ``(x_train, y_train, x_test, y_test)`` with
    ``uint8`` images ``N x C x H x W`` whose values run from 0 to ``max_value``.
    """

    name: str
    title: str
    num_classes: int
    input_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    decode: Decoder
    max_value: int = 255
    files: tuple[DataFile, ...] = ()
    mirrors: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    apt_package: str | None = None
    homepage: str = ""


DIGIT_NAMES = tuple(str(d) for d in range(10))

DIGITS = DatasetSpec(
    name="digits",
    title="scikit-learn digits",
    num_classes=10,
    input_shape=(1, 8, 8),
    class_names=DIGIT_NAMES,
    decode=digits.decode,
    max_value=16,
    homepage="https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html",
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    num_classes=10,
    input_shape=(1, 28, 28),
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),  # fmt: skip
    decode=mnist.decode,
    files=(
        DataFile(
            mnist.TRAIN_IMAGES,
            sha256="3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            size=26421880,
            content_sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            content_size=47040016,
        ),
        DataFile(
            mnist.TRAIN_LABELS,
            sha256="a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            size=29515,
            content_sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            content_size=60008,
        ),
        DataFile(
            mnist.TEST_IMAGES,
            sha256="346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            size=4422102,
            content_sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            content_size=7840016,
        ),
        DataFile(
            mnist.TEST_LABELS,
            sha256="67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            size=5148,
            content_sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            content_size=10008,
        ),
    ),
    mirrors=(
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    apt_package="dataset-fashion-mnist",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
)

MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    num_classes=10,
    input_shape=(1, 28, 28),
    class_names=DIGIT_NAMES,
    decode=mnist.decode,
    files=(
        DataFile(
            mnist.TRAIN_IMAGES,
            sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            size=9912422,
            content_sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            content_size=47040016,
        ),
        DataFile(
            mnist.TRAIN_LABELS,
            sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            size=28881,
            content_sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            content_size=60008,
        ),
        DataFile(
            mnist.TEST_IMAGES,
            sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            size=1648877,
            content_sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            content_size=7840016,
        ),
        DataFile(
            mnist.TEST_LABELS,
            sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            size=4542,
            content_sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            content_size=10008,
        ),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    homepage="http://yann.lecun.com/exdb/mnist/",
)

CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10",
    num_classes=10,
    input_shape=(3, 32, 32),
    class_names=(
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),  # fmt: skip
    decode=cifar.decode,
    files=(
        DataFile(
            cifar.ARCHIVE,
            sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            md5="c58f30108f718f92721af3b95e74349a",
            size=170498071,
        ),
    ),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (DIGITS, FASHION_MNIST, MNIST, CIFAR10)}
