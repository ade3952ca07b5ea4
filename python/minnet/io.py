"""The model file: safetensors tensors + a JSON metadata block, written atomically.

Loading never unpickles anything: safetensors holds raw tensors and a JSON header only. It
also does no work in proportion to a number written in the file: the header's size is
bounded before it is parsed, tensor shapes are read from the header and handed to the
caller's check before any tensor is read, and every floating tensor is checked to be finite.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from ._utils import logger

FORMAT_NAME = "minnet-model"
FORMAT_VERSION = 1
_META_KEY = "minnet"

# The largest JSON header accepted (safetensors itself allows 100 MB). A model's metadata holds
# its features, their training statistics, the annotation rows of its genes and the training
# history: about 0.3 MB with the default 2000 features, under 20 MB with 60,000 genes in both
# modalities. Anything beyond this bound is refused before it is parsed.
MAX_HEADER_BYTES = 64 * 2**20

# The two encoders' modalities, in the order of the network's encoders.
MODALITY_PAIRS = (("rna", "atac"), ("rna", "adt"))

# safetensors' dtype names → torch dtypes (the ones torch can hold).
_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


class ModelFileError(ValueError):
    """A model file that cannot be read: not a MinNet model file, damaged, edited, or of
    another format version."""


class TensorInfo(NamedTuple):
    """A tensor as the file's header declares it, before anything is read."""

    shape: tuple[int, ...]
    dtype: torch.dtype | str  # a str: a safetensors dtype torch has no equivalent for


# Called with the metadata and the declared tensors before any tensor is read; raises to refuse.
HeaderCheck = Callable[[dict[str, Any], dict[str, TensorInfo]], None]


def write_model_file(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Write tensors and metadata to ``path`` atomically (a temporary file in its folder, renamed).

    The file gets the permissions of any file the user creates (``0o666`` less the umask,
    typically ``0o644``), so colleagues can read a shared model as they can the data.

    Parameters
    ----------
    path
        Destination file; its folder must exist.
    tensors
        Named tensors (the network's ``state_dict``).
    meta
        JSON-serialisable metadata; format name and version are added.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist; create it first.")
    if path.is_dir():
        example = str(path / "model.safetensors")
        raise IsADirectoryError(f"{str(path)!r} is a folder; give a file name, e.g. {example!r}.")
    header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **meta}
    text = json.dumps(header)
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    bad = [k for k, v in contiguous.items() if v.is_floating_point() and not v.isfinite().all()]
    if bad:  # written anyway (a checkpoint of a diverged run), but said now, not at load
        logger.warning("saving NaN or infinite weights (%s) to %s: minnet.load will refuse the "
                       "file. The training diverged; retrain, e.g. with a smaller lr.",
                       ", ".join(bad[:5]), path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        save_file(contiguous, str(tmp), metadata={_META_KEY: text})
        # mkstemp (and safetensors) leave the file 0o600 whatever the umask: a model is a file
        # the user writes, so it gets the mode of any other (typically 0o644)
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it where the system shows it (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # elsewhere it can only be read by setting it: set the strictest for that instant, so a
    # file another thread creates meanwhile is never more open than intended
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def read_model_file(
    path: str | os.PathLike, check: HeaderCheck | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a model file written by :func:`write_model_file`.

    Parameters
    ----------
    path
        The model file.
    check
        Called with the metadata and the declared shapes and dtypes of the tensors before any
        tensor is read: it refuses (raises) a file whose tensors are not what the metadata
        describes, so that nothing is allocated from a number written in the file.

    Returns
    -------
    tensors, metadata
        The tensors by name, and the metadata (a dict, format name and version included).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ModelFileError
        If ``path`` is a folder or not a regular file; if the file is not a MinNet model file,
        is damaged or truncated, has another format version, holds metadata no saved model
        holds (edited), or holds NaN or infinite values.
    """
    path = Path(path)
    _check_header_size(path, _regular_file_size(path))
    with _safetensors(path) as fh:
        meta = _metadata(path, fh.metadata())
        with edited_or_damaged(path):
            check_metadata(meta)
        infos = {name: _tensor_info(path, fh, name) for name in fh.keys()}
        if check is not None:
            check(meta, infos)
        tensors = {name: _finite(path, name, fh.get_tensor(name)) for name in infos}
    return tensors, meta


def _regular_file_size(path: Path) -> int:
    """Size of the regular file ``path``; errors that name what else it is."""
    try:
        st = os.stat(path)  # follows symbolic links: what matters is what would be read
    except FileNotFoundError:
        if path.is_symlink():
            raise FileNotFoundError(
                f"model file {str(path)!r} is a symbolic link to {os.readlink(path)!r}, which "
                "does not exist.") from None
        raise FileNotFoundError(f"model file {str(path)!r} does not exist.") from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(f"{str(path)!r} is a folder, not a model file; give the file's path.")
    if not stat.S_ISREG(st.st_mode):
        # reading a device or a pipe could block or never end (/dev/zero): refuse it first
        kind = ("a character device" if stat.S_ISCHR(st.st_mode)
                else "a block device" if stat.S_ISBLK(st.st_mode)
                else "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "a special file")
        via = f"; it links to {os.readlink(path)!r}" if path.is_symlink() else ""
        raise ModelFileError(
            f"{str(path)!r} is not a regular file but {kind}{via}. Give the path of a model "
            "file written by MinNetModel.save()."
        )
    return st.st_size


def _check_header_size(path: Path, size: int) -> None:
    """Refuse, before anything is parsed, a header that is too large or overruns the file."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if len(head) < 8:
        raise ModelFileError(
            f"{str(path)!r} is not a readable MinNet model file: it holds only {size} bytes "
            "(empty or truncated). Re-save the model with MinNetModel.save()."
        )
    n = struct.unpack("<Q", head)[0]
    if n > size - 8:
        raise ModelFileError(
            f"{str(path)!r} is not a readable MinNet model file: its header claims {n} bytes "
            f"but the file holds {size} (truncated, or another format). Re-save the model with "
            "MinNetModel.save()."
        )
    if n > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"{str(path)!r} is not a readable MinNet model file: its header of {n} bytes "
            f"exceeds the {MAX_HEADER_BYTES} bytes a model's metadata can need (edited or "
            "damaged). Re-save the model from its training run."
        )


@contextmanager
def _safetensors(path: Path) -> Iterator[Any]:
    """The file opened with safetensors (header parsed, no tensor read yet)."""
    from safetensors import SafetensorError, safe_open

    try:
        fh = safe_open(str(path), framework="pt", device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise ModelFileError(
            f"{str(path)!r} is not a readable MinNet model file (damaged, truncated or another "
            f"format: {err}). Re-save the model with MinNetModel.save()."
        ) from None
    with fh:
        yield fh


def _metadata(path: Path, stored: dict[str, str] | None) -> dict[str, Any]:
    """The MinNet metadata of the file, checked to be of this format and version."""
    raw = (stored or {}).get(_META_KEY)
    if raw is None:
        raise ModelFileError(f"{str(path)!r} is a safetensors file but not a MinNet model file.")
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise ModelFileError(
            f"{str(path)!r}: model metadata is not valid JSON ({reason}); the file was edited or "
            "damaged. Re-save the model from its training run."
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{str(path)!r} is not a MinNet model file.")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} has model-file format version {version!r}; this minnet reads version "
            f"{FORMAT_VERSION}. Use the minnet release that wrote it, or retrain."
        )
    return meta


def _tensor_info(path: Path, fh: Any, name: str) -> TensorInfo:
    """Declared shape and dtype of one tensor (read from the header, nothing allocated)."""
    from safetensors import SafetensorError

    try:
        piece = fh.get_slice(name)
        shape, dtype = tuple(int(s) for s in piece.get_shape()), str(piece.get_dtype())
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise ModelFileError(
            f"{str(path)!r}: tensor {name!r} cannot be read ({err}); the file is damaged. "
            "Re-save the model from its training run."
        ) from None
    return TensorInfo(shape, _DTYPES.get(dtype, dtype))


def _finite(path: Path, name: str, tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` itself; refuses NaN or infinite values, which would make every output NaN."""
    if tensor.is_floating_point():
        bad = int((~torch.isfinite(tensor)).sum())
        if bad:
            raise ModelFileError(
                f"{str(path)!r}: tensor {name!r} holds {bad} NaN or infinite value(s), so every "
                "embedding would be NaN; the file is damaged, or was saved from a training run "
                "that diverged. Re-save the model from a good training run, or retrain (e.g. "
                "with a smaller lr)."
            )
    return tensor


@contextmanager
def edited_or_damaged(path: str | os.PathLike) -> Iterator[None]:
    """Turn any error raised inside into a :class:`ModelFileError` that blames the file.

    A model file that contradicts itself or its weights was edited or damaged: whatever check
    notices it (these of the metadata, the settings', the annotation's), the user's fix is the
    same, so the message says so instead of blaming the user's input.
    """
    try:
        yield
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError,
            OverflowError, RecursionError) as err:
        problem = str(err) if not isinstance(err, KeyError) else f"{err} is missing"
        raise ModelFileError(
            f"{str(path)!r} was edited or damaged: {problem.rstrip('.')}. Re-save the model "
            "from its training run (MinNetModel.save), or retrain."
        ) from None


def check_metadata(meta: dict[str, Any]) -> None:
    """Check that the metadata's fields have the types and sizes a saved model writes.

    Settings, gene annotation and tensor shapes are checked by :meth:`MinNetModel.load`, which
    knows what they mean.

    Raises
    ------
    ValueError
        Naming the first field that no saved model could hold.
    """
    modalities = meta.get("modalities")
    if not isinstance(modalities, list) or tuple(modalities) not in MODALITY_PAIRS:
        raise ValueError(
            f"'modalities' is {modalities!r}; a model's are ['rna', 'atac'] or ['rna', 'adt'] "
            "(RNA first, the order of the encoders)"
        )
    features = _per_modality(meta, "features", modalities, required=True)
    for m in modalities:
        _check_names(features[m], f"features[{m!r}]")
    _check_names(meta.get("labels"), "labels")
    if not isinstance(meta.get("config"), dict):
        raise ValueError(f"'config' is a {type(meta.get('config')).__name__}, not a dict")
    stats = {k: _per_modality(meta, k, modalities, required=False)
             for k in ("feature_means", "scale_mean", "scale_std")}
    if (stats["scale_mean"] is None) != (stats["scale_std"] is None):
        raise ValueError("'scale_mean' and 'scale_std' must be stored together")
    for key, values in stats.items():
        for m in modalities if values is not None else ():
            _check_numbers(values[m], len(features[m]), f"{key}[{m!r}]", key == "scale_std")
    _check_summary(meta.get("summary"))
    _check_columns(meta.get("annotation"), "annotation")
    _check_projection(meta.get("peak_projection"))


def _check_projection(stored: Any) -> None:
    """An LSI peak input's peaks (distinct names), their positive idf and whether cells are
    scaled to unit length (absent from files written before it existed), or None."""
    if stored is None:
        return
    if not isinstance(stored, dict) or not {"idf", "peaks"} <= set(stored) <= {
            "idf", "peaks", "unit_norm"}:
        raise ValueError("'peak_projection' must hold 'peaks' and 'idf' (and 'unit_norm')")
    if not isinstance(stored.get("unit_norm", False), bool):
        raise ValueError("'peak_projection['unit_norm']' must be true or false")
    _check_names(stored["peaks"], "peak_projection['peaks']")
    _check_numbers(stored["idf"], len(stored["peaks"]), "peak_projection['idf']", True)


def _per_modality(meta: dict[str, Any], key: str, modalities: list[str],
                  required: bool) -> dict[str, Any] | None:
    """``meta[key]``: a dict with one entry per modality (or None when not ``required``)."""
    value = meta.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, dict) or sorted(value) != sorted(modalities):
        got = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise ValueError(f"{key!r} must hold one entry per modality {modalities}, got {got}")
    return value


def _check_names(values: Any, what: str) -> None:
    """A non-empty list of distinct strings (feature names, cell types)."""
    if not isinstance(values, list) or not values:
        raise ValueError(f"{what} must be a non-empty list of names, got {type(values).__name__}"
                         + (" (empty)" if isinstance(values, list) else ""))
    odd = [v for v in values if not isinstance(v, str)]
    if odd:
        raise ValueError(f"{what} holds {len(odd)} entries that are not names, e.g. {odd[0]!r}")
    index = np.asarray(values, dtype=object)
    _, first, counts = np.unique(index, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = index[np.sort(first[counts > 1])][:5].tolist()
        raise ValueError(f"{what} holds duplicated names, e.g. {dup}")


def _check_numbers(values: Any, n: int, what: str, positive: bool = False) -> None:
    """A list of ``n`` finite real numbers (``> 0`` if ``positive``)."""
    if not isinstance(values, list) or len(values) != n:
        size = len(values) if isinstance(values, list) else type(values).__name__
        raise ValueError(f"{what} must hold one number per feature ({n}), got {size}")
    odd = [v for v in values if isinstance(v, bool) or not isinstance(v, int | float)]
    if odd:
        raise ValueError(f"{what} holds {len(odd)} entries that are not numbers, e.g. {odd[0]!r}")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float range
        raise ValueError(f"{what} holds a number too large for a float") from None
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else False)
    if bad.any():
        wanted = "finite and positive" if positive else "finite"
        raise ValueError(f"{what} holds {int(bad.sum())} values that are not {wanted}, e.g. "
                         f"{arr[bad][0]!r}")


# Summary entries read by minnet (repr, history, resuming a run) and the types they need.
_SUMMARY_TYPES: dict[str, tuple[type, ...]] = {
    "epochs_run": (int,), "best_epoch": (int,), "n_cells": (int,), "n_train": (int,),
    "n_val": (int,), "best_val_loss": (int, float), "best_val_accuracy": (int, float),
    "train_seconds": (int, float), "interrupted": (bool,), "device": (str,), "history": (list,),
    "networks": (list,), "networks_finished": (int,),
}


def _check_summary(summary: Any) -> None:
    """The training summary: a dict whose known entries have their types; history rows are
    dicts numbered by ``epoch`` and include the best epoch."""
    if summary is None:
        return
    if not isinstance(summary, dict):
        raise ValueError(f"'summary' is a {type(summary).__name__}, not a dict")
    for key, types in _SUMMARY_TYPES.items():
        value = summary.get(key)
        if value is not None and (not isinstance(value, types)
                                  or (isinstance(value, bool) and bool not in types)):
            raise ValueError(f"summary[{key!r}] is {value!r}, not of type "
                             f"{' or '.join(t.__name__ for t in types)}")
    history = summary.get("history") or []
    epochs = [r.get("epoch") if isinstance(r, dict) else None for r in history]
    if any(isinstance(e, bool) or not isinstance(e, int) for e in epochs):
        raise ValueError("summary['history'] must be a list of dicts, each with an int 'epoch'")
    best = summary.get("best_epoch")
    if epochs and best is not None and best not in set(epochs):
        raise ValueError(f"summary['best_epoch'] {best} is not an epoch of the history")
    for record in summary.get("networks") or []:  # an ensemble's record of each network
        if not isinstance(record, dict) or "networks" in record or not record.get("history"):
            raise ValueError("summary['networks'] must hold one network's summary per network")
        _check_summary(record)


def _check_columns(table: Any, what: str) -> None:
    """None, or a table stored as columns: a dict of equally long lists."""
    if table is None:
        return
    if not isinstance(table, dict) or not all(isinstance(v, list) for v in table.values()):
        raise ValueError(f"{what!r} must be a dict of columns (lists), got "
                         f"{type(table).__name__}")
    lengths = {len(v) for v in table.values()}
    if len(lengths) > 1:
        raise ValueError(f"{what!r} has columns of different lengths {sorted(lengths)}")
