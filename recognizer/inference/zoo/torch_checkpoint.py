"""Read legacy (non-zip) PyTorch checkpoints into numpy arrays without torch.

The legacy format is a run of pickles (magic number, protocol version, system
info, the state_dict, the list of storage keys) followed, for each storage key
in that list's order, by an int64 element count and the storage's raw bytes.
Only the handful of globals a plain state_dict needs may be named by the
pickles; anything else is refused before it can be imported or called.
"""

from __future__ import annotations

import collections
import math
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

_ELEMENT_COUNT = struct.Struct("<q")
_ZIP_SIGNATURE = b"PK\x03\x04"

# What a damaged pickle stream raises inside the unpickler (besides our own errors).
_MALFORMED_PICKLE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    AttributeError,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
    ValueError,
)


class MalformedCheckpointError(ValueError):
    """The file is truncated, garbled or not a legacy torch state_dict."""


class UnsafeCheckpointError(ValueError):
    """The checkpoint asks for something a plain state_dict never needs."""


def _refuse_setstate(instance: object, state: object) -> NoReturn:
    raise UnsafeCheckpointError(f"expected no pickle BUILD on {type(instance).__name__}, got state {state!r:.80}")


@dataclass(frozen=True)
class _StorageType:
    """Stands in for torch.FloatStorage and friends: only a dtype marker."""

    name: str
    dtype: np.dtype

    __setstate__ = _refuse_setstate


_STORAGE_TYPES: dict[str, _StorageType] = {
    "FloatStorage": _StorageType("FloatStorage", np.dtype("<f4")),
    "LongStorage": _StorageType("LongStorage", np.dtype("<i8")),
}


class _LazyStorage:
    """A storage named while unpickling; its bytes come after the pickles."""

    __setstate__ = _refuse_setstate

    def __init__(self, key: str, storage_type: _StorageType, element_count: int) -> None:
        self.key = key
        self.storage_type = storage_type
        self.element_count = element_count
        self.buffer: np.ndarray | None = None

    def fill_from(self, stream: IO[bytes]) -> None:
        (recorded_count,) = _ELEMENT_COUNT.unpack(stream.read(_ELEMENT_COUNT.size))
        if recorded_count != self.element_count:
            raise MalformedCheckpointError(
                f"storage {self.key}: expected {self.element_count} elements, the data section records {recorded_count}"
            )
        raw = stream.read(recorded_count * self.storage_type.dtype.itemsize)
        self.buffer = np.frombuffer(raw, dtype=self.storage_type.dtype)


class _PendingTensor:
    """Arguments of torch._utils._rebuild_tensor_v2, materialised once storages are filled."""

    __setstate__ = _refuse_setstate

    def __init__(
        self,
        storage: _LazyStorage,
        offset: int,
        shape: tuple[int, ...],
        stride: tuple[int, ...],
    ) -> None:
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.stride = stride

    def materialize(self) -> np.ndarray:
        buffer = self.storage.buffer
        if buffer is None:
            raise MalformedCheckpointError(f"storage {self.storage.key} is not listed in the storage keys")
        element_count = math.prod(self.shape)
        if element_count == 0:
            return np.empty(self.shape, dtype=buffer.dtype)
        if element_count > buffer.size:
            # Legal for broadcast (stride 0) tensors, which a state_dict has no use for;
            # refusing them keeps a tiny file from demanding unbounded memory.
            raise MalformedCheckpointError(
                f"tensor of shape {self.shape} has {element_count} elements, "
                f"expected at most the {buffer.size} of storage {self.storage.key}"
            )
        last_index = self.offset + sum((size - 1) * step for size, step in zip(self.shape, self.stride, strict=True))
        if last_index >= buffer.size:
            raise MalformedCheckpointError(
                f"tensor of shape {self.shape}, stride {self.stride}, offset {self.offset} "
                f"needs {last_index + 1} elements, storage {self.storage.key} has {buffer.size}"
            )
        byte_strides = tuple(step * buffer.itemsize for step in self.stride)
        view = np.lib.stride_tricks.as_strided(
            buffer[self.offset :],
            shape=self.shape,
            strides=byte_strides,
            writeable=False,
        )
        return view.copy()


def _expect_int_tuple(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(type(item) is int and item >= 0 for item in value):
        raise MalformedCheckpointError(f"expected {what} to be a tuple of non-negative ints, got {value!r:.80}")
    return value


def _rebuild_tensor(
    storage: object,
    storage_offset: object,
    size: object,
    stride: object,
    requires_grad: object = False,
    backward_hooks: object = None,
    metadata: object = None,
) -> _PendingTensor:
    """Safe stand-in for torch._utils._rebuild_tensor_v2; grad flags and hooks are irrelevant here."""
    if not isinstance(storage, _LazyStorage):
        raise MalformedCheckpointError(f"expected a persistent storage as tensor storage, got {storage!r:.80}")
    if type(storage_offset) is not int or storage_offset < 0:
        raise MalformedCheckpointError(f"expected a non-negative int storage offset, got {storage_offset!r:.80}")
    shape = _expect_int_tuple(size, "tensor size")
    strides = _expect_int_tuple(stride, "tensor stride")
    if len(shape) != len(strides):
        raise MalformedCheckpointError(f"tensor size {shape} and stride {strides} differ in rank")
    return _PendingTensor(storage, storage_offset, shape, strides)


_ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    **{("torch", name): storage_type for name, storage_type in _STORAGE_TYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, stream: IO[bytes], storages: dict[str, _LazyStorage]) -> None:
        super().__init__(stream)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"refused global {module}.{name}: a state_dict may only name "
                + ", ".join(f"{m}.{n}" for m, n in _ALLOWED_GLOBALS)
            ) from None

    def persistent_load(self, pid: Any) -> _LazyStorage:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise MalformedCheckpointError(f"expected a ('storage', ...) persistent id, got {pid!r:.80}")
        storage_type, key, _location, element_count = pid[1:5]
        view_metadata = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType):
            raise MalformedCheckpointError(f"expected a storage type in persistent id, got {storage_type!r:.80}")
        if not isinstance(key, str) or type(element_count) is not int or element_count < 0:
            raise MalformedCheckpointError(f"expected (str key, int element count) in persistent id, got {pid!r:.80}")
        if view_metadata is not None:
            raise MalformedCheckpointError(f"storage views are not supported, got view metadata {view_metadata!r:.80}")
        return self._storage_for(key, storage_type, element_count)

    def _storage_for(self, key: str, storage_type: _StorageType, element_count: int) -> _LazyStorage:
        storage = self._storages.setdefault(key, _LazyStorage(key, storage_type, element_count))
        if (storage.storage_type, storage.element_count) != (
            storage_type,
            element_count,
        ):
            raise MalformedCheckpointError(
                f"storage {key} is declared both as {storage.element_count} x {storage.storage_type.name} "
                f"and as {element_count} x {storage_type.name}"
            )
        return storage


def _load_pickle(stream: IO[bytes], storages: dict[str, _LazyStorage], what: str) -> Any:
    try:
        return _RestrictedUnpickler(stream, storages).load()
    except (UnsafeCheckpointError, MalformedCheckpointError):
        raise
    except _MALFORMED_PICKLE_ERRORS as error:
        raise MalformedCheckpointError(f"garbled or truncated checkpoint while reading the {what}: {error}") from error


def _check_header(stream: IO[bytes], storages: dict[str, _LazyStorage]) -> None:
    if stream.read(len(_ZIP_SIGNATURE)) == _ZIP_SIGNATURE:
        raise MalformedCheckpointError(
            f"expected the legacy torch magic number {LEGACY_MAGIC_NUMBER:#x}, "
            "got a zip archive (the torch >= 1.6 format, which this reader does not support)"
        )
    stream.seek(0)
    magic = _load_pickle(stream, storages, "magic number")
    if magic != LEGACY_MAGIC_NUMBER:
        raise MalformedCheckpointError(
            f"expected the legacy torch magic number {LEGACY_MAGIC_NUMBER:#x}, got {magic!r:.80}"
        )
    protocol = _load_pickle(stream, storages, "protocol version")
    if protocol != LEGACY_PROTOCOL_VERSION:
        raise MalformedCheckpointError(f"expected protocol version {LEGACY_PROTOCOL_VERSION}, got {protocol!r:.80}")
    system_info = _load_pickle(stream, storages, "system info")
    if not isinstance(system_info, dict) or system_info.get("little_endian") is not True:
        raise MalformedCheckpointError(f"expected system info of a little-endian writer, got {system_info!r:.200}")


def _remaining_bytes(stream: IO[bytes]) -> int:
    position = stream.tell()
    end = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    return end - position


def _read_storage_data(stream: IO[bytes], storages: dict[str, _LazyStorage], storage_keys: object) -> None:
    if (
        not isinstance(storage_keys, list)
        or not all(isinstance(key, str) for key in storage_keys)
        or sorted(storage_keys) != sorted(storages)
    ):
        raise MalformedCheckpointError(
            f"expected the storage key list to name the {len(storages)} storages "
            f"the state_dict uses, got {storage_keys!r:.200}"
        )
    # Checked up front so that a forged element count cannot ask for a huge read.
    needed = sum(
        _ELEMENT_COUNT.size + storage.element_count * storage.storage_type.dtype.itemsize
        for storage in storages.values()
    )
    available = _remaining_bytes(stream)
    if needed != available:
        problem = "truncated" if available < needed else "garbled"
        raise MalformedCheckpointError(
            f"{problem} checkpoint: the storages need {needed} bytes after the pickles, the file has {available}"
        )
    for key in storage_keys:
        storages[key].fill_from(stream)


def _materialize_state_dict(state_dict: object) -> dict[str, np.ndarray]:
    if not isinstance(state_dict, dict):
        raise MalformedCheckpointError(f"expected the checkpoint to hold a state_dict, got {type(state_dict).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        if not isinstance(name, str) or not isinstance(value, _PendingTensor):
            raise MalformedCheckpointError(
                f"expected state_dict entries of str -> tensor, got {name!r:.80} -> {value!r:.80}"
            )
        arrays[name] = value.materialize()
    return arrays


def read_legacy_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Return the tensors of a legacy torch state_dict file, keyed as in the file."""
    storages: dict[str, _LazyStorage] = {}
    with Path(path).open("rb") as stream:
        _check_header(stream, storages)
        state_dict = _load_pickle(stream, storages, "state_dict")
        storage_keys = _load_pickle(stream, storages, "storage key list")
        _read_storage_data(stream, storages, storage_keys)
    return _materialize_state_dict(state_dict)
