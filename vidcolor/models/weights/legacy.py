"""Read fastai v1 / ``torch.save`` checkpoints without running code from the file.

``torch.load`` unpickles, and a pickle may call any importable function (``os.system``). This
reader admits only the globals that state-dict checkpoints contain -- ``OrderedDict``,
``torch._utils._rebuild_tensor_v2`` and ``_rebuild_parameter``, the ``torch.*Storage`` types,
``slice`` -- each resolved to a harmless stand-in, and refuses any other with a
:class:`~vidcolor.errors.WeightsError` that names it. Tensor bytes go from the file straight into
``torch.frombuffer``.

Both of torch's formats are read:

legacy (torch < 1.6; DeOldify's 2019 files), one stream::

    pickle(magic 0x1950a86a20f9469cfc6c) pickle(1001) pickle(sys info: byte order, type sizes)
    pickle(object; storages as persistent ids ("storage", type, key, location, numel, view))
    pickle(list of storage keys), then per key: int64 element count and the raw bytes

zip (torch >= 1.6): ``<archive>/data.pkl`` with persistent ids ``("storage", type, key,
location, numel)``, the bytes of each storage in ``<archive>/data/<key>``.

One module past 300 lines: the restricted unpickler and both formats' readers share the storage
stand-ins, and splitting them would spread one security boundary over several files.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch
from torch import Tensor

from vidcolor.errors import WeightsError

__all__ = ["check_state_dict", "read_learner_checkpoint", "sniff_format"]

_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTO = 0x80  # pickle's PROTO opcode, then the protocol: how protocols 2-5 start
_SAFETENSORS_MAX_HEADER = 100_000_000  # safetensors refuses larger JSON headers
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
_STORAGE_TAGS = ("storage", b"storage")  # bytes in pickles written by Python 2
_REDOWNLOAD = "download it again"


# slots=True: pickle's BUILD opcode cannot overwrite the fields of these after validation.
@dataclass(frozen=True, slots=True)
class _StorageType:
    """Stand-in for a ``torch.*Storage`` class named by the pickle; not callable."""

    dtype: torch.dtype


@dataclass(frozen=True, slots=True)
class _StorageRef:
    """A storage the pickle refers to: ``view_numel`` elements from ``view_offset`` of ``key``."""

    key: str
    dtype: torch.dtype
    view_offset: int
    view_numel: int


@dataclass(frozen=True, slots=True)
class _TensorRef:
    """A tensor the pickle describes; its bytes are read once the pickle is done."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(
    storage: Any, offset: Any, size: Any, stride: Any, *_flags_hooks_metadata: Any
) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``; checks argument types only."""
    if not isinstance(storage, _StorageRef) or not _is_index(offset):
        raise ValueError("_rebuild_tensor_v2 without a storage and an integer offset")
    if not _is_shape(size) or not _is_shape(stride) or len(size) != len(stride):
        raise ValueError(f"tensor size {size!r:.60} and stride {stride!r:.60} are malformed")
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


def _rebuild_parameter(data: Any, *_grad_hooks: Any) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_parameter``: a parameter is its tensor."""
    if not isinstance(data, _TensorRef):
        raise ValueError("_rebuild_parameter without a tensor")
    return data


def _is_index(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _is_shape(x: Any) -> bool:
    return isinstance(x, tuple | list) and all(_is_index(n) for n in x)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("__builtin__", "slice"): slice,  # protocol 2 spells builtins "__builtin__"
    ("builtins", "slice"): slice,
    **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only :data:`_ALLOWED` globals and storage persistent ids.

    Attributes:
        storages: ``key -> (dtype, numel)`` of every storage the pickle referred to.
    """

    def __init__(self, file: IO[bytes], path: Path) -> None:
        super().__init__(file)
        self.path = path
        self.storages: dict[str, tuple[torch.dtype, int]] = {}

    def find_class(self, module: str, name: str) -> Any:
        """The stand-in for an allowed global; WeightsError naming any other."""
        if (module, name) not in _ALLOWED:
            raise WeightsError(
                f"{self.path} refers to {module}.{name}, which a weights file never needs; "
                "refusing to load it (unpickling it could run code); use the official file"
            )
        return _ALLOWED[(module, name)]

    def persistent_load(self, pid: Any) -> _StorageRef:
        """A :class:`_StorageRef` for ``("storage", type, key, location, numel[, view])``."""
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] not in _STORAGE_TAGS:
            raise ValueError(f"unexpected persistent id {pid!r:.80}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not (
            isinstance(storage_type, _StorageType) and isinstance(key, str) and _is_index(numel)
        ):
            raise ValueError(f"malformed storage reference {pid!r:.80}")
        declared = (storage_type.dtype, numel)
        if self.storages.setdefault(key, declared) != declared:
            raise ValueError(f"storage {key!r} is declared twice, differently")
        if view is None:
            return _StorageRef(key, storage_type.dtype, 0, numel)
        if not (isinstance(view, tuple) and len(view) == 3 and _is_shape(view[1:])):
            raise ValueError(f"malformed storage view {view!r:.80}")
        if view[1] + view[2] > numel:
            raise ValueError(f"view of storage {key!r} reaches past its {numel} elements")
        return _StorageRef(key, storage_type.dtype, view[1], view[2])


def read_learner_checkpoint(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read the model state dict of a fastai v1 ``Learner.save`` or ``torch.save`` file.

    fastai saves ``{"model": state_dict, "opt": optimizer_state}`` (``with_opt=True``) or the
    bare state dict; both are accepted. The optimizer's tensors are skipped, never read.

    Args:
        path: a checkpoint in torch's legacy (pre-1.6) or zip format.

    Returns:
        Key -> CPU tensor with the stored dtype, shape and strides. Tensors share buffers
        read from the file; clone one before changing it in place.

    Raises:
        WeightsError: missing, unreadable, truncated or damaged file; a global outside the
            allowed few; no state dict inside.
    """
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"{path} is a folder, not a checkpoint; give the *_gen.pth file in it")
    if not path.is_file():
        raise WeightsError(f"checkpoint not found: {path}; check the path or {_REDOWNLOAD}")
    try:
        kind = sniff_format(path)
        if kind == "safetensors":
            raise WeightsError(
                f"{path} is a safetensors file, not a torch.save checkpoint, so there is nothing "
                "to import; give it to vidcolor run --weights as it is"
            )
        return _read_zip(path) if kind == "torch-zip" else _read_legacy(path)
    except OSError as e:
        raise WeightsError(f"cannot read checkpoint {path}: {e}; check its permissions") from e


def sniff_format(path: str | os.PathLike[str]) -> str:
    """What a weights file is, from its first bytes alone (nothing is parsed or unpickled).

    Returns:
        ``"torch-zip"`` (torch >= 1.6 ``torch.save``), ``"pickle"`` (legacy ``torch.save`` or a
        bare pickle), ``"safetensors"`` (8-byte header length, then the JSON header), or
        ``"unknown"``.

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, "rb") as f:
        head = f.read(9)
    # safetensors first: its header length may begin with any byte, 0x80 included.
    if head[8:] == b"{" and struct.unpack("<Q", head[:8])[0] <= _SAFETENSORS_MAX_HEADER:
        return "safetensors"
    if head.startswith(_ZIP_MAGIC):
        return "torch-zip"
    if len(head) >= 2 and head[0] == _PICKLE_PROTO and 2 <= head[1] <= 5:
        return "pickle"
    return "unknown"


def _read_legacy(path: Path) -> dict[str, Tensor]:
    """State dict of a legacy-format file (see the module docstring for the layout)."""
    with open(path, "rb") as f:
        _check_legacy_header(f, path)
        unpickler = _SafeUnpickler(f, path)
        refs = _model_tensors(_unpickle(unpickler), path)
        keys = _unpickle(_SafeUnpickler(f, path))
        if not isinstance(keys, list) or set(keys) != set(unpickler.storages):
            raise WeightsError(f"{path} has a damaged storage list; {_REDOWNLOAD}")
        wanted = {ref.storage.key for ref in refs.values()}
        size = os.fstat(f.fileno()).st_size
        storages: dict[str, Tensor] = {}
        for key in keys:
            dtype, numel = unpickler.storages[key]
            count = f.read(8)
            if len(count) < 8:
                raise WeightsError(f"{path} is truncated before storage {key!r}; {_REDOWNLOAD}")
            if struct.unpack("<q", count)[0] != numel:
                raise WeightsError(f"{path} storage {key!r} has a wrong length; {_REDOWNLOAD}")
            nbytes = numel * _itemsize(dtype)
            if f.tell() + nbytes > size:  # checked before allocating what a header claims
                raise WeightsError(f"{path} is truncated inside storage {key!r}; {_REDOWNLOAD}")
            if key in wanted:
                storages[key] = _read_storage(f, nbytes, dtype, path, key)
            else:
                f.seek(nbytes, io.SEEK_CUR)  # optimizer state: not needed
    return _materialise(refs, storages, path)


def _check_legacy_header(f: IO[bytes], path: Path) -> None:
    """Read the magic number, protocol version and sys info; raise unless torch's, little-endian."""
    magic, protocol, sys_info = (_unpickle(_SafeUnpickler(f, path)) for _ in range(3))
    if magic != _MAGIC or protocol != _LEGACY_PROTOCOL or not isinstance(sys_info, dict):
        raise WeightsError(
            f"{path} is not a torch checkpoint (no torch magic number and protocol 1001); "
            "use a .pth file written by torch.save"
        )
    if sys_info.get("little_endian") is not True:
        raise WeightsError(f"{path} was written big-endian; re-save it on a little-endian host")


def _read_zip(path: Path) -> dict[str, Tensor]:
    """State dict of a zip-format file: ``<archive>/data.pkl`` and ``<archive>/data/<key>``."""
    try:
        with zipfile.ZipFile(path) as zf:
            pickles = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(pickles) != 1:
                raise WeightsError(f"{path} is a zip file but not a torch checkpoint")
            prefix = pickles[0].removesuffix("data.pkl")
            order = _zip_member(zf, f"{prefix}byteorder")
            if order is not None and zf.read(order) != b"little":
                raise WeightsError(f"{path} was written big-endian; re-save it little-endian")
            unpickler = _SafeUnpickler(io.BytesIO(zf.read(pickles[0])), path)
            refs = _model_tensors(_unpickle(unpickler), path)
            storages: dict[str, Tensor] = {}
            for key in {ref.storage.key for ref in refs.values()}:
                dtype, numel = unpickler.storages[key]
                nbytes = numel * _itemsize(dtype)
                info = _zip_member(zf, f"{prefix}data/{key}")
                # torch stores members uncompressed, so none can outgrow the file
                if info is None or info.file_size != nbytes or nbytes > path.stat().st_size:
                    raise WeightsError(f"{path} lacks the bytes of storage {key!r}; {_REDOWNLOAD}")
                with zf.open(info) as member:
                    storages[key] = _read_storage(member, nbytes, dtype, path, key)
    except zipfile.BadZipFile as e:  # also a CRC mismatch, checked as a member is read
        raise WeightsError(f"{path} is truncated or damaged (zip: {e}); {_REDOWNLOAD}") from e
    return _materialise(refs, storages, path)


def _zip_member(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo | None:
    try:
        return zf.getinfo(name)
    except KeyError:
        return None


def _unpickle(unpickler: _SafeUnpickler) -> Any:
    """``unpickler.load()`` with every failure turned into a one-line WeightsError."""
    try:
        return unpickler.load()
    except WeightsError:
        raise
    except EOFError as e:
        raise WeightsError(f"{unpickler.path} is truncated; {_REDOWNLOAD}") from e
    # Malformed pickles fail with many types (UnpicklingError, ValueError, TypeError, ...).
    except Exception as e:
        what = "truncated" if "truncated" in str(e) else f"damaged ({type(e).__name__}: {e})"
        raise WeightsError(f"{unpickler.path} is {what}; {_REDOWNLOAD}") from e


def _model_tensors(tree: Any, path: Path) -> dict[str, _TensorRef]:
    """The state dict inside what the pickle held: ``tree["model"]`` (fastai) or ``tree``."""
    if isinstance(tree, dict) and "model" in tree and set(tree) <= {"model", "opt"}:
        tree = tree["model"]
    if not isinstance(tree, dict) or not tree:
        raise WeightsError(
            f"{path} holds {type(tree).__name__}, not a model state dict; "
            "use a checkpoint saved by fastai's Learner.save or torch.save(model.state_dict())"
        )
    for key, value in tree.items():
        if not isinstance(key, str) or not isinstance(value, _TensorRef):
            raise WeightsError(
                f"{path} entry {key!r} is a {type(value).__name__}, not a tensor, so the file "
                "is not a model state dict; use a checkpoint of model weights"
            )
    return dict(tree)


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty(0, dtype=dtype).element_size()


def _read_storage(
    f: io.BufferedIOBase | IO[bytes], nbytes: int, dtype: torch.dtype, path: Path, key: str
) -> Tensor:
    """``nbytes`` from ``f`` as a 1-D tensor of ``dtype``; WeightsError if the file ends first."""
    buf = bytearray(nbytes)
    view = memoryview(buf)
    got = 0
    while got < nbytes:
        n = f.readinto(view[got:])  # type: ignore[union-attr]
        if not n:
            raise WeightsError(
                f"{path} is truncated: storage {key!r} ends after {got} of {nbytes} bytes; "
                f"{_REDOWNLOAD}"
            )
        got += n
    return torch.frombuffer(buf, dtype=dtype) if nbytes else torch.empty(0, dtype=dtype)


def _materialise(
    refs: dict[str, _TensorRef], storages: dict[str, Tensor], path: Path
) -> dict[str, Tensor]:
    """Tensors from their descriptions, each checked to lie inside its storage."""
    out: dict[str, Tensor] = {}
    for name, ref in refs.items():
        st = ref.storage
        reach = sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
        extent = 0 if 0 in ref.size else 1 + reach
        if ref.offset + extent > st.view_numel:
            raise WeightsError(
                f"{path} key {name!r} (size {ref.size}, stride {ref.stride}, offset {ref.offset}) "
                f"reaches past its storage of {st.view_numel} elements; {_REDOWNLOAD}"
            )
        base = storages[st.key]
        out[name] = torch.as_strided(base, ref.size, ref.stride, st.view_offset + ref.offset)
    return out


def check_state_dict(
    expected: Mapping[str, Sequence[int]],
    found: Mapping[str, Tensor],
    *,
    source: str | os.PathLike[str],
    hint: str = "the file is not a checkpoint of this architecture; pick the model that matches it",
) -> None:
    """Raise a WeightsError naming the first missing, unexpected or wrongly shaped key.

    Args:
        expected: key -> shape, e.g. ``{k: v.shape for k, v in model.state_dict().items()}``.
        found: the state dict read from ``source``.
        source: the file, for the message.
        hint: what the user can do, ending the message.
    """
    missing = [k for k in expected if k not in found]
    if missing:
        stem = missing[0].removesuffix("_v")
        if missing[0].endswith(".weight_v") and stem in found and f"{stem}_orig" in found:
            hint = "it was saved by torch < 1.0, whose spectral norm kept no weight_v; re-save it"
        raise WeightsError(f"{source} lacks key {missing[0]!r} ({len(missing)} missing); {hint}")
    unexpected = [k for k in found if k not in expected]
    if unexpected:
        raise WeightsError(
            f"{source} has unexpected key {unexpected[0]!r} ({len(unexpected)} extra); {hint}"
        )
    for key, shape in expected.items():
        if tuple(found[key].shape) != tuple(shape):
            raise WeightsError(
                f"{source} key {key!r} has shape {tuple(found[key].shape)}, expected "
                f"{tuple(shape)}; {hint}"
            )
