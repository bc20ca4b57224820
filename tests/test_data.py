"""adamkit.data: formats, checksums, search order, downloads and splits, on small files in the real formats.

No network: the IDX and CIFAR files are written here with ``struct``/``pickle``/``tarfile``
(independently of the readers), downloads come from ``file://`` mirrors or a local
HTTP server. One test reads the real Fashion-MNIST of Debian's ``dataset-fashion-mnist``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import re
import shutil
import struct
import sys
import threading
import tracemalloc
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adamkit.data import DATASETS, DataError, DataFile, Dataset, DataWarning, cifar, load
from adamkit.data import download as download_module
from adamkit.data.idx import read_idx
from adamkit.data.locate import user_cache_dir
from adamkit.data.splits import stratified_holdout
from cifar_archive import cifar_batches, write_cifar

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
IDX_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


# ---------------------------------------------------------------- writers (independent of the readers)


def idx_bytes(array: np.ndarray, dtype: str = "u1") -> bytes:
    """An IDX file: two zero bytes, the dtype code, ndim, big-endian uint32 sizes, big-endian data."""
    header = bytes([0, 0, IDX_CODES[dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.asarray(array).astype(dtype).tobytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tagged_images(count: int, seed: int, size: int = 28) -> np.ndarray:
    """Random uint8 images whose first two pixels spell their index, so a sample can be traced."""
    images = np.random.default_rng(seed).integers(0, 256, size=(count, size, size), dtype=np.uint8)
    images[:, 0, 0] = np.arange(count) // 256
    images[:, 0, 1] = np.arange(count) % 256
    return images


def image_index(x: np.ndarray) -> np.ndarray:
    """The index written by :func:`tagged_images`, read back from float images N x 1 x H x W."""
    pixels = np.rint(x[:, 0, 0, :2] * 255).astype(np.int64)
    return pixels[:, 0] * 256 + pixels[:, 1]


def balanced_labels(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.arange(count) % 10).astype(np.uint8)


def write_mnist(folder: Path, n_train: int = 50, n_test: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """The four gzipped IDX files of an MNIST-like set; returns the arrays written."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        MNIST_FILES[0]: tagged_images(n_train, seed),
        MNIST_FILES[1]: balanced_labels(n_train, seed + 1),
        MNIST_FILES[2]: tagged_images(n_test, seed + 2),
        MNIST_FILES[3]: balanced_labels(n_test, seed + 3),
    }
    for name, array in arrays.items():
        (folder / name).write_bytes(gzip.compress(idx_bytes(array), mtime=0))
    return arrays


def patch_spec(monkeypatch, name: str, folder: Path | None = None, **changes) -> None:
    """Replace DATASETS[name] by a copy that knows the hashes of the files in ``folder``.

    No mirrors and no system folders unless given, so nothing outside tmp_path is touched.
    """
    spec = DATASETS[name]
    if folder is not None:
        changes.setdefault(
            "files",
            tuple(DataFile(f.name, sha256=sha256((folder / f.name).read_bytes())) for f in spec.files),
        )
    changes.setdefault("mirrors", ())
    changes.setdefault("system_dirs", ())
    monkeypatch.setitem(DATASETS, name, replace(spec, **changes))


def unhashed(name: str) -> tuple[DataFile, ...]:
    """The files of a data set with no known checksum: only their format is checked."""
    return tuple(DataFile(f.name) for f in DATASETS[name].files)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No $ADAMKIT_DATA, and a user cache inside tmp_path."""
    monkeypatch.delenv("ADAMKIT_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def cache_folder(tmp_path: Path, name: str) -> Path:
    return tmp_path / "cache" / "adamkit" / name


def file_mirror(tmp_path: Path) -> tuple[str]:
    return (tmp_path.joinpath("mirror").as_uri() + "/",)


def assert_round_trip(ds: Dataset, arrays: dict[str, np.ndarray]) -> None:
    """Train + val are the training file's images and labels (traced by tag); test is the test file."""
    x_all = np.concatenate([ds.x_train, ds.x_val])
    y_all = np.concatenate([ds.y_train, ds.y_val])
    order = np.argsort(image_index(x_all))
    np.testing.assert_array_equal(np.rint(x_all[order, 0] * 255), arrays[MNIST_FILES[0]])
    np.testing.assert_array_equal(y_all[order], arrays[MNIST_FILES[1]])
    np.testing.assert_array_equal(np.rint(ds.x_test[:, 0] * 255), arrays[MNIST_FILES[2]])
    np.testing.assert_array_equal(ds.y_test, arrays[MNIST_FILES[3]])


# ---------------------------------------------------------------------------- IDX format


@pytest.mark.parametrize("dtype", list(IDX_CODES))
def test_idx_reader_round_trips_every_dtype(dtype):
    array = (np.arange(2 * 3 * 4) - 7).reshape(2, 3, 4).astype(dtype)
    if dtype == "u1":
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    out = read_idx(idx_bytes(array, dtype))
    assert out.shape == (2, 3, 4)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize(
    "mangle, words",
    [
        (lambda b: b[:-1], "truncated IDX file"),
        (lambda b: b[:10], "truncated IDX file"),
        (lambda b: b[:2], "truncated IDX file"),
        (lambda b: b + b"\0", "trailing bytes"),
        (lambda b: b"\x01" + b[1:], "not an IDX file"),
        (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX dtype code 0x07"),
    ],
)
def test_idx_reader_rejects_damaged_files(mangle, words):
    good = idx_bytes(np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(DataError, match=words):
        read_idx(mangle(good), "x.idx")


# ---------------------------------------------------------------------------- MNIST / Fashion-MNIST loading


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
def test_idx_data_set_round_trips(monkeypatch, tmp_path, name):
    arrays = write_mnist(tmp_path / "data")
    patch_spec(monkeypatch, name, tmp_path / "data")
    ds = load(name, seed=0, validation=0.2, root=tmp_path / "data", download=False)
    assert (ds.name, ds.num_classes, ds.input_shape) == (name, 10, (1, 28, 28))
    assert len(ds.class_names) == 10
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert x.dtype == np.float32 and x.shape[1:] == (1, 28, 28)
        assert x.min() >= 0.0 and x.max() <= 1.0
    for y in (ds.y_train, ds.y_val, ds.y_test):
        assert y.dtype == np.int64
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (40, 10, 20)
    assert ds.source == str(tmp_path / "data")
    assert_round_trip(ds, arrays)


def test_validation_split_is_deterministic_disjoint_and_stratified(monkeypatch, tmp_path):
    arrays = write_mnist(tmp_path / "data", n_train=200)
    patch_spec(monkeypatch, "mnist", tmp_path / "data")
    first = load("mnist", seed=3, validation=0.25, root=tmp_path / "data")
    again = load("mnist", seed=3, validation=0.25, root=tmp_path / "data")
    other = load("mnist", seed=4, validation=0.25, root=tmp_path / "data")
    np.testing.assert_array_equal(first.x_val, again.x_val)
    np.testing.assert_array_equal(first.y_train, again.y_train)
    train_ids, val_ids = image_index(first.x_train), image_index(first.x_val)
    assert not set(train_ids) & set(val_ids)
    assert sorted([*train_ids, *val_ids]) == list(range(200))
    assert set(image_index(other.x_val)) != set(val_ids)  # another seed, another split
    # 20 samples of each class, 5 of each held out
    assert np.bincount(first.y_val, minlength=10).tolist() == [5] * 10
    np.testing.assert_array_equal(first.y_val, arrays[MNIST_FILES[1]][val_ids])
    np.testing.assert_array_equal(first.x_test, other.x_test)  # the test split never moves


def test_no_validation_gives_empty_arrays_of_the_right_shape(monkeypatch, tmp_path):
    write_mnist(tmp_path / "data")
    patch_spec(monkeypatch, "mnist", tmp_path / "data")
    ds = load("mnist", validation=0.0, root=tmp_path / "data")
    assert ds.x_val.shape == (0, 1, 28, 28) and ds.x_val.dtype == np.float32
    assert ds.y_val.shape == (0,) and ds.y_val.dtype == np.int64
    assert len(ds.y_train) == 50


def test_checksum_mismatch_is_a_data_error(monkeypatch, tmp_path):
    write_mnist(tmp_path / "data")
    patch_spec(monkeypatch, "mnist", tmp_path / "data")
    wrong = replace(DATASETS["mnist"].files[2], sha256="0" * 64)
    files = list(DATASETS["mnist"].files)
    files[2] = wrong
    patch_spec(monkeypatch, "mnist", files=tuple(files))
    with pytest.raises(DataError) as error:
        load("mnist", root=tmp_path / "data", download=False)
    message = str(error.value)
    assert "checksum mismatch" in message
    assert str(tmp_path / "data" / MNIST_FILES[2]) in message
    assert MNIST_FILES[0] + ":" not in message  # only the bad file is blamed


def test_truncated_file_with_known_hash_fails_its_checksum(monkeypatch, tmp_path):
    write_mnist(tmp_path / "data")
    patch_spec(monkeypatch, "mnist", tmp_path / "data")
    path = tmp_path / "data" / MNIST_FILES[0]
    path.write_bytes(path.read_bytes()[:-300])
    with pytest.raises(DataError, match="checksum mismatch"):
        load("mnist", root=tmp_path / "data", download=False)


def test_truncated_gzip_without_known_hash_is_detected(monkeypatch, tmp_path):
    write_mnist(tmp_path / "data")
    patch_spec(monkeypatch, "mnist", files=unhashed("mnist"))
    path = tmp_path / "data" / MNIST_FILES[0]
    path.write_bytes(path.read_bytes()[:-300])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: truncated gzip file"):
        load("mnist", root=tmp_path / "data", download=False)


def test_truncated_idx_inside_a_valid_gzip_is_detected(monkeypatch, tmp_path):
    write_mnist(tmp_path / "data")
    patch_spec(monkeypatch, "mnist", files=unhashed("mnist"))
    path = tmp_path / "data" / MNIST_FILES[0]
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[: len(data) - 28 * 28 // 2]))  # half an image short
    with pytest.raises(DataError) as error:
        load("mnist", root=tmp_path / "data", download=False)
    assert "truncated IDX file" in str(error.value)
    assert "(50, 28, 28)" in str(error.value)


def test_labels_and_images_must_agree(monkeypatch, tmp_path):
    write_mnist(tmp_path / "data")
    patch_spec(monkeypatch, "mnist", files=unhashed("mnist"))
    (tmp_path / "data" / MNIST_FILES[3]).write_bytes(gzip.compress(idx_bytes(np.array([1, 2, 11], np.uint8))))
    with pytest.raises(DataError, match="expected 20 labels"):
        load("mnist", root=tmp_path / "data", download=False)


def test_a_recompressed_copy_passes_by_its_content_hash(monkeypatch, tmp_path):
    """Debian's copies are upstream's gzip streams with another header: accepted by content hash."""
    arrays = write_mnist(tmp_path / "data")
    files = []
    for name in MNIST_FILES:
        content = gzip.decompress((tmp_path / "data" / name).read_bytes())
        published = io.BytesIO()  # as upstream: file name and a time in the gzip header
        with gzip.GzipFile(filename=name[:-3], mode="wb", fileobj=published, mtime=1_500_000_000) as stream:
            stream.write(content)
        files.append(DataFile(name, sha256=sha256(published.getvalue()), content_sha256=sha256(content)))
        assert sha256(published.getvalue()) != sha256((tmp_path / "data" / name).read_bytes())
    patch_spec(monkeypatch, "fashion-mnist", files=tuple(files))
    assert_round_trip(load("fashion-mnist", root=tmp_path / "data", download=False), arrays)

    # the same header trick does not rescue other content
    other = gzip.compress(idx_bytes(np.zeros((20,), np.uint8)), mtime=0)
    (tmp_path / "data" / MNIST_FILES[3]).write_bytes(other)
    with pytest.raises(DataError, match="checksum mismatch"):
        load("fashion-mnist", root=tmp_path / "data", download=False)


# ---------------------------------------------------------------------------- where files are looked for


def test_missing_files_error_names_every_place_and_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("ADAMKIT_DATA", str(tmp_path / "env"))
    system = tmp_path / "usr-share-datasets" / "fashion-mnist"
    patch_spec(
        monkeypatch, "fashion-mnist", system_dirs=(str(system),), mirrors=DATASETS["fashion-mnist"].mirrors
    )
    with pytest.raises(DataError) as error:
        load("fashion-mnist", root=tmp_path / "root", download=False)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("Fashion-MNIST (fashion-mnist) could not be loaded")
    for place in (
        tmp_path / "root",
        tmp_path / "root" / "fashion-mnist",
        tmp_path / "env" / "fashion-mnist",
        cache_folder(tmp_path, "fashion-mnist"),
        system,
    ):
        assert f"{place} (not found)" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "download=True" in message and "ADAMKIT_DATA" in message
    assert "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/" in message
    assert not (tmp_path / "root").exists()  # download=False creates nothing


def test_incomplete_folder_is_skipped_and_reported(monkeypatch, tmp_path):
    write_mnist(tmp_path / "data")
    patch_spec(monkeypatch, "mnist", tmp_path / "data")
    (tmp_path / "data" / MNIST_FILES[1]).unlink()
    with pytest.raises(DataError, match=r"incomplete, missing train-labels-idx1-ubyte.gz"):
        load("mnist", root=tmp_path / "data", download=False)


def test_search_order_root_then_env_then_cache_then_system(monkeypatch, tmp_path):
    """Four different sets in the four places; the first in the documented order wins."""
    folders = {
        "root": tmp_path / "root" / "mnist",  # the <name>/ sub-folder of root also counts
        "env": tmp_path / "env" / "mnist",
        "cache": cache_folder(tmp_path, "mnist"),
        "system": tmp_path / "system" / "mnist",
    }
    labels = {}
    for seed, (where, folder) in enumerate(folders.items()):
        labels[where] = write_mnist(folder, seed=10 * seed)[MNIST_FILES[3]]
    assert str(user_cache_dir()).startswith(str(tmp_path / "cache"))
    patch_spec(monkeypatch, "mnist", files=unhashed("mnist"), system_dirs=(str(folders["system"]),))
    monkeypatch.setenv("ADAMKIT_DATA", str(tmp_path / "env"))

    def loaded_from():
        ds = load("mnist", root=tmp_path / "root" if (tmp_path / "root").exists() else None, download=False)
        where = next(w for w, folder in folders.items() if ds.source == str(folder))
        np.testing.assert_array_equal(ds.y_test, labels[where])
        return where

    assert loaded_from() == "root"
    shutil.rmtree(tmp_path / "root")
    assert loaded_from() == "env"
    monkeypatch.delenv("ADAMKIT_DATA")
    assert loaded_from() == "cache"
    for name in MNIST_FILES:
        (folders["cache"] / name).unlink()
    assert loaded_from() == "system"


def test_corrupt_copy_outside_the_download_folder_is_an_error_even_with_download(monkeypatch, tmp_path):
    write_mnist(tmp_path / "mirror")
    patch_spec(monkeypatch, "mnist", tmp_path / "mirror", mirrors=file_mirror(tmp_path))
    write_mnist(tmp_path / "data", seed=99)  # other content: its checksums fail
    with pytest.raises(DataError) as error:
        load("mnist", root=tmp_path / "data", download=True)
    assert "corrupt" in str(error.value) and str(tmp_path / "data") in str(error.value)
    assert not (tmp_path / "data" / "mnist").exists()  # nothing downloaded beside it


# ---------------------------------------------------------------------------- downloads


def test_download_from_a_file_mirror_after_a_failing_one(monkeypatch, tmp_path):
    arrays = write_mnist(tmp_path / "mirror")
    mirrors = ("file:///nonexistent-adamkit-mirror/", tmp_path.joinpath("mirror").as_uri() + "/")
    patch_spec(monkeypatch, "mnist", tmp_path / "mirror", mirrors=mirrors)
    monkeypatch.setenv("ADAMKIT_DATA", str(tmp_path / "env"))
    ds = load("mnist", download=True)
    target = tmp_path / "env" / "mnist"
    assert ds.source == str(target)
    assert sorted(p.name for p in target.iterdir()) == sorted(MNIST_FILES)
    assert_round_trip(ds, arrays)
    # next time it is found without downloading
    (tmp_path / "mirror" / MNIST_FILES[0]).unlink()
    assert load("mnist", download=False).source == str(target)


@pytest.mark.parametrize("bad_file", [0, 3])
def test_corrupt_download_is_rejected_and_leaves_nothing(monkeypatch, tmp_path, bad_file):
    write_mnist(tmp_path / "mirror")
    patch_spec(monkeypatch, "mnist", tmp_path / "mirror", mirrors=file_mirror(tmp_path))
    bad = tmp_path / "mirror" / MNIST_FILES[bad_file]
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError) as error:
        load("mnist", download=True)
    message = str(error.value)
    assert f"could not download {MNIST_FILES[bad_file]}" in message
    assert "does not match the known hash" in message  # pooch's verdict
    target = cache_folder(tmp_path, "mnist")
    if bad_file == 0:  # nothing came: not even an empty folder remains
        assert not (tmp_path / "cache").exists()
    else:  # the files before it are the real ones, the bad one and any temporary file are gone
        left = sorted(p.name for p in target.iterdir())
        assert left == sorted(MNIST_FILES[:bad_file])
        for name in left:
            expected = next(f.sha256 for f in DATASETS["mnist"].files if f.name == name)
            assert sha256((target / name).read_bytes()) == expected


def test_interrupted_download_leaves_no_file(monkeypatch, tmp_path):
    write_mnist(tmp_path / "mirror")
    patch_spec(monkeypatch, "mnist", tmp_path / "mirror", mirrors=file_mirror(tmp_path))

    def half_then_interrupt(url, output_file, pooch_instance=None):
        Path(output_file).write_bytes((tmp_path / "mirror" / MNIST_FILES[0]).read_bytes()[:1000])
        raise KeyboardInterrupt

    monkeypatch.setattr(download_module, "copy_file_url", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        load("mnist", download=True)
    assert not (tmp_path / "cache").exists()


def test_corrupt_file_in_the_download_folder_is_downloaded_again(monkeypatch, tmp_path):
    arrays = write_mnist(tmp_path / "mirror")
    patch_spec(monkeypatch, "mnist", tmp_path / "mirror", mirrors=file_mirror(tmp_path))
    target = cache_folder(tmp_path, "mnist")
    write_mnist(target)
    (target / MNIST_FILES[0]).write_bytes(b"junk")
    with pytest.raises(DataError, match="corrupt"):
        load("mnist", download=False)
    with pytest.warns(DataWarning, match=rf"{MNIST_FILES[0]}: checksum mismatch .* downloading new copies"):
        ds = load("mnist", download=True)
    assert_round_trip(ds, arrays)
    assert (target / MNIST_FILES[0]).read_bytes() == (tmp_path / "mirror" / MNIST_FILES[0]).read_bytes()


@pytest.fixture
def http_mirror(tmp_path, monkeypatch):
    """A local HTTP server over tmp_path/mirror (pooch's real HTTP downloader and our progress bar)."""
    (tmp_path / "mirror").mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "mirror"))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for variable in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(variable, "127.0.0.1,localhost")
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_over_http_with_progress_bar(monkeypatch, tmp_path, http_mirror):
    arrays = write_mnist(tmp_path / "mirror")
    patch_spec(monkeypatch, "mnist", tmp_path / "mirror", mirrors=(http_mirror,))
    ds = load("mnist", root=tmp_path / "data", download=True)
    assert ds.source == str(tmp_path / "data" / "mnist")
    assert_round_trip(ds, arrays)


def test_corrupt_http_download_is_rejected(monkeypatch, tmp_path, http_mirror):
    write_mnist(tmp_path / "mirror")
    patch_spec(monkeypatch, "mnist", tmp_path / "mirror", mirrors=(http_mirror,))
    (tmp_path / "mirror" / MNIST_FILES[0]).write_bytes(b"\x1f\x8b not the file")
    with pytest.raises(DataError, match="does not match the known hash"):
        load("mnist", root=tmp_path / "data", download=True)
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------------------------- CIFAR-10


def test_cifar10_round_trips_with_channel_order(monkeypatch, tmp_path):
    batches = cifar_batches()
    red, green, blue = (np.full((32, 32), v, np.uint8) for v in (200, 100, 50))
    red[0, 1] = 7  # row-major: row 0, column 1
    batches["data_batch_1"][0][0] = np.concatenate([red.ravel(), green.ravel(), blue.ravel()])
    archive = tmp_path / "data" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    write_cifar(archive, batches)
    patch_spec(monkeypatch, "cifar10", tmp_path / "data")
    ds = load("cifar10", validation=0.0, root=tmp_path / "data", download=False)
    assert ds.input_shape == (3, 32, 32) and ds.class_names[0] == "airplane"
    assert ds.x_train.shape == (15, 3, 32, 32) and ds.x_test.shape == (4, 3, 32, 32)
    first = np.rint(ds.x_train[0] * 255)
    np.testing.assert_array_equal(first, np.stack([red, green, blue]))
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    np.testing.assert_array_equal(
        np.rint(ds.x_train * 255).reshape(15, -1), np.concatenate([data for data, _ in train])
    )
    np.testing.assert_array_equal(ds.y_train, sum((labels for _, labels in train), []))
    np.testing.assert_array_equal(ds.y_test, batches["test_batch"][1])


def test_cifar10_checksum_mismatch(monkeypatch, tmp_path):
    (tmp_path / "data").mkdir()
    write_cifar(tmp_path / "data" / "cifar-10-python.tar.gz", cifar_batches())
    with pytest.raises(DataError, match="checksum mismatch"):
        load("cifar10", root=tmp_path / "data", download=False)  # the real CIFAR-10 hashes


@pytest.mark.parametrize("damage", ["truncated", "missing test_batch", "not gzip"])
def test_cifar10_damaged_archives(monkeypatch, tmp_path, damage):
    archive = tmp_path / "data" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    batches = cifar_batches()
    if damage == "missing test_batch":
        del batches["test_batch"]
    write_cifar(archive, batches, gz=damage != "not gzip")
    if damage == "truncated":
        archive.write_bytes(archive.read_bytes()[:-200])
    patch_spec(monkeypatch, "cifar10", files=unhashed("cifar10"))
    with pytest.raises(DataError) as error:
        load("cifar10", root=tmp_path / "data", download=False)
    expected = {"truncated": "truncated", "missing test_batch": "lacks test_batch", "not gzip": "not a valid"}
    assert expected[damage] in str(error.value)


def test_cifar10_pickle_cannot_run_code(monkeypatch, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.makedirs, (str(marker),))

    batches = cifar_batches()
    batches["data_batch_3"] = pickle.dumps({b"data": Exploit(), b"labels": []}, protocol=2)
    (tmp_path / "data").mkdir()
    write_cifar(tmp_path / "data" / "cifar-10-python.tar.gz", batches)
    patch_spec(monkeypatch, "cifar10", files=unhashed("cifar10"))
    with pytest.raises(
        DataError, match=r"data_batch_3: not a valid CIFAR batch pickle .*os.makedirs is not allowed"
    ):
        load("cifar10", root=tmp_path / "data", download=False)
    assert not marker.exists()


# ---------------------------------------------------------------------------- digits, names, splits


def test_digits_is_scikit_learns_data_split_three_ways():
    from sklearn.datasets import load_digits

    pixels, labels = load_digits(return_X_y=True)
    ds = load("digits", seed=0, validation=0.2)
    assert (ds.name, ds.input_shape, ds.num_classes) == ("digits", (1, 8, 8), 10)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 1797
    assert abs(len(ds.y_test) - 0.2 * 1797) <= 5  # 20 %, rounded per class
    # together the three splits are exactly the 1797 images (as a multiset)
    x_all = np.concatenate([ds.x_train, ds.x_val, ds.x_test]).reshape(-1, 64) * 16
    y_all = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    ours = np.column_stack([x_all, y_all])
    theirs = np.column_stack([pixels, labels])
    np.testing.assert_array_equal(ours[np.lexsort(ours.T)], theirs[np.lexsort(theirs.T)])
    # the seed moves the validation split, never the test split
    other = load("digits", seed=1, validation=0.2)
    np.testing.assert_array_equal(other.x_test, ds.x_test)
    assert not np.array_equal(other.y_val, ds.y_val)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="cifar10, digits, fashion-mnist, mnist"):
        load("imagenet")


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_validation_fraction_must_be_in_range(fraction):
    with pytest.raises(ValueError, match=rf"validation\): {fraction} \(must be in \[0, 1\)\)"):
        load("digits", validation=fraction)


def test_stratified_holdout_properties():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    keep, held = stratified_holdout(labels, 0.1, seed=5)
    assert np.intersect1d(keep, held).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([keep, held])), np.arange(100))
    assert np.bincount(labels[held]).tolist() == [1, 2, 3, 4]
    again = stratified_holdout(labels, 0.1, seed=5)
    np.testing.assert_array_equal(held, again[1])
    assert stratified_holdout(labels, 0.0, seed=5)[1].size == 0


# ---------------------------------------------------------------------------- the real thing


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_the_debian_package():
    """Debian's re-compressed files pass by content hash; 60,000 + 10,000 images, 6,000 per class."""
    ds = load("fashion-mnist", seed=0, validation=0.1, download=False)  # no root: found in the system folder
    assert ds.source == str(DEBIAN_FASHION)
    assert len(ds.y_train) + len(ds.y_val) == 60000 and len(ds.y_test) == 10000
    assert np.bincount(np.concatenate([ds.y_train, ds.y_val])).tolist() == [6000] * 10
    assert np.bincount(ds.y_val).tolist() == [600] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.x_test.shape == (10000, 1, 28, 28) and ds.x_test.max() == 1.0
    assert ds.class_names[9] == "Ankle boot"


# ---------------------------------------------------------------------------- hostile and odd files


def zeros_gzip(prefix: bytes, megabytes: int) -> bytes:
    """A gzip bomb: ``prefix`` then ``megabytes`` MiB of zeros, compressed about 1000:1."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    parts = [packer.compress(prefix)]
    block = bytes(1 << 20)
    parts += [packer.compress(block) for _ in range(megabytes)]
    return b"".join(parts) + packer.flush()


def peak_memory(call) -> tuple[int, BaseException | None]:
    """The peak of Python's (and NumPy's) allocations during ``call()``, and what it raised."""
    tracemalloc.start()
    try:
        call()
        raised = None
    except BaseException as error:  # noqa: BLE001 - returned to the test to inspect
        raised = error
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, raised


def hashed_with_content(folder: Path) -> tuple[DataFile, ...]:
    """The MNIST files in ``folder`` as the registry knows real ones: hashes, size, content hash and size."""
    files = []
    for name in MNIST_FILES:
        raw = (folder / name).read_bytes()
        content = gzip.decompress(raw)
        content_facts = {"content_sha256": sha256(content), "content_size": len(content)}
        files.append(DataFile(name, sha256=sha256(raw), size=len(raw), **content_facts))
    return tuple(files)


BOMB_MEGABYTES = 64  # decompressed; about 64 KB on disk


@pytest.mark.parametrize(
    "known, shape, words",
    [
        # its hashes known: the content check stops at content_size
        ("hashes", (50, 28, 28), r"checksum mismatch, and decompresses to more than 39216 bytes \(stopped"),
        # no hash known: the IDX reader stops one byte past the header's size
        ("nothing", (50, 28, 28), r"IDX file with trailing bytes .* 39216 bytes; decompression stopped"),
        # a header promising more than deflate can pack into the file is refused undecompressed
        ("nothing", (1 << 20, 28, 28), r"truncated IDX file .* cannot hold more than"),
    ],
)
def test_a_gzip_bomb_named_like_a_data_file_is_decompressed_no_further_than_expected(
    monkeypatch, tmp_path, known, shape, words
):
    write_mnist(tmp_path / "data")
    files = hashed_with_content(tmp_path / "data") if known == "hashes" else unhashed("mnist")
    patch_spec(monkeypatch, "mnist", files=files)
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", *shape)
    (tmp_path / "data" / MNIST_FILES[0]).write_bytes(zeros_gzip(header, BOMB_MEGABYTES))
    peak, raised = peak_memory(lambda: load("mnist", root=tmp_path / "data", download=False))
    assert isinstance(raised, DataError)
    assert re.search(words, str(raised)), str(raised)
    assert peak < 12 << 20, f"{peak / 2**20:.0f} MiB allocated for a {BOMB_MEGABYTES} MiB bomb"


@pytest.mark.parametrize("name", ["fashion-mnist", "cifar10"])
def test_a_huge_file_with_a_known_size_is_refused_before_it_is_read(tmp_path, name):
    """The real registry's sizes: a 1 GiB file (sparse: it takes no disk) is never read."""
    folder = tmp_path / "data"
    folder.mkdir()
    for file in DATASETS[name].files:
        with open(folder / file.name, "wb") as handle:
            handle.truncate(1 << 30)
    peak, raised = peak_memory(lambda: load(name, root=folder, download=False))
    assert isinstance(raised, DataError)
    message = str(raised)
    assert f"{DATASETS[name].files[0].name}: 1073741824 bytes, more than any copy of it can hold" in message
    assert "not read" in message
    assert peak < 4 << 20


def test_a_wrong_file_of_unknown_size_is_hashed_in_chunks_not_read_whole(monkeypatch, tmp_path):
    write_mnist(tmp_path / "data")
    files = [DataFile(f.name, sha256=f.sha256) for f in hashed_with_content(tmp_path / "data")]  # no sizes
    patch_spec(monkeypatch, "mnist", files=tuple(files))
    with open(tmp_path / "data" / MNIST_FILES[0], "wb") as handle:
        handle.truncate(64 << 20)  # sparse: no disk used
    peak, raised = peak_memory(lambda: load("mnist", root=tmp_path / "data", download=False))
    assert isinstance(raised, DataError)
    assert f"{MNIST_FILES[0]}: checksum mismatch ({64 << 20} bytes" in str(raised)
    assert peak < 4 << 20


def test_a_cifar_archive_is_decompressed_no_further_than_a_batch_or_the_whole_can_be(monkeypatch, tmp_path):
    archive = tmp_path / "data" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    patch_spec(monkeypatch, "cifar10", files=unhashed("cifar10"))
    batches = cifar_batches()
    batches["data_batch_2"] = bytes(48 << 20)  # a member larger than any batch: never read
    write_cifar(archive, batches)
    peak, raised = peak_memory(lambda: load("cifar10", root=tmp_path / "data", download=False))
    assert isinstance(raised, DataError)
    assert "data_batch_2 is 50331648 bytes, more than a CIFAR batch can be" in str(raised)
    assert peak < 12 << 20
    # the whole archive's bound, lowered here, stops decompression in an unneeded member too
    batches = cifar_batches()
    write_cifar(archive, {"readme.html": bytes(4 << 20), **batches})
    monkeypatch.setattr(cifar, "MAX_ARCHIVE_BYTES", 2 << 20)
    with pytest.raises(DataError, match=r"decompresses to more than 2097152 bytes \(stopped there\)"):
        load("cifar10", root=tmp_path / "data", download=False)


def test_an_uncompressed_idx_copy_passes_by_its_content_hash(monkeypatch, tmp_path):
    """``gunzip -k``'d files kept under their .gz names: the reader takes them, so does the check."""
    arrays = write_mnist(tmp_path / "data")
    patch_spec(monkeypatch, "mnist", files=hashed_with_content(tmp_path / "data"))
    for name in MNIST_FILES:
        (tmp_path / "data" / name).write_bytes(gzip.decompress((tmp_path / "data" / name).read_bytes()))
    assert_round_trip(load("mnist", root=tmp_path / "data", download=False), arrays)
    # another content, uncompressed, is still a mismatch
    (tmp_path / "data" / MNIST_FILES[3]).write_bytes(idx_bytes(np.zeros((20,), np.uint8)))
    with pytest.raises(DataError, match=rf"{MNIST_FILES[3]}: checksum mismatch"):
        load("mnist", root=tmp_path / "data", download=False)


@pytest.mark.parametrize("platformdirs_missing", [False, True])
def test_files_on_disk_load_without_the_downloader(monkeypatch, tmp_path, platformdirs_missing):
    """pooch (and platformdirs, its dependency) are needed for downloads only."""
    monkeypatch.setitem(sys.modules, "pooch", None)  # `import pooch` raises ImportError
    if platformdirs_missing:
        monkeypatch.setitem(sys.modules, "platformdirs", None)
    arrays = write_mnist(cache_folder(tmp_path, "mnist"))
    patch_spec(monkeypatch, "mnist", cache_folder(tmp_path, "mnist"))
    ds = load("mnist", download=True)  # found in the user cache: nothing to download
    assert ds.source == str(cache_folder(tmp_path, "mnist"))
    assert_round_trip(ds, arrays)
    # a download that is needed says what is missing, and leaves nothing behind
    patch_spec(monkeypatch, "fashion-mnist", mirrors=file_mirror(tmp_path))
    with pytest.raises(DataError, match=r"downloading train-images-idx3-ubyte.gz needs pooch, which is not"):
        load("fashion-mnist", download=True)
    assert not cache_folder(tmp_path, "fashion-mnist").exists()


def test_a_corrupt_copy_in_the_download_folder_is_named_when_another_folder_is_used(monkeypatch, tmp_path):
    arrays = write_mnist(cache_folder(tmp_path, "mnist"))
    patch_spec(monkeypatch, "mnist", cache_folder(tmp_path, "mnist"))
    monkeypatch.setenv("ADAMKIT_DATA", str(tmp_path / "env"))  # the download folder: $ADAMKIT_DATA/mnist
    write_mnist(tmp_path / "env" / "mnist")
    (tmp_path / "env" / "mnist" / MNIST_FILES[2]).write_bytes(b"\x1f\x8b damaged")
    with pytest.warns(DataWarning) as caught:
        ds = load("mnist", download=True)
    assert ds.source == str(cache_folder(tmp_path, "mnist"))
    assert_round_trip(ds, arrays)
    (warning,) = caught
    message = str(warning.message)
    assert f"{tmp_path / 'env' / 'mnist' / MNIST_FILES[2]}: checksum mismatch" in message
    assert f"using the copy in {cache_folder(tmp_path, 'mnist')} instead" in message
    assert warning.filename == __file__  # points at the caller's load()
    # without download, a corrupt copy anywhere stays an error
    with pytest.raises(DataError, match="a copy of its files is corrupt"):
        load("mnist", download=False)
