"""The model file: safetensors tensors + a JSON metadata block, written atomically.

Loading never unpickles anything: safetensors holds raw tensors and a JSON header only.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

FORMAT_NAME = "minnet-model"
FORMAT_VERSION = 1
_META_KEY = "minnet"


class ModelFileError(ValueError):
    """A model file that cannot be read: not a MinNet file, damaged, or of another format
    version."""


def write_model_file(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Write tensors and metadata to ``path`` atomically (a temporary file in its folder, renamed).

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
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(contiguous, tmp, metadata={_META_KEY: json.dumps(header)})
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_model_file(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a model file written by :func:`write_model_file`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ModelFileError
        If the file is not a MinNet model file, is damaged or truncated, or has another format
        version.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{str(path)!r} is a folder, not a model file; give the file's path.")
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist.")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            raw = (fh.metadata() or {}).get(_META_KEY)
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise ModelFileError(
            f"{str(path)!r} is not a readable MinNet model file (damaged, truncated or another "
            f"format: {err}). Re-save the model with MinNetModel.save()."
        ) from None
    if raw is None:
        raise ModelFileError(f"{str(path)!r} is a safetensors file but not a MinNet model file.")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{str(path)!r}: model metadata is not valid JSON ({err}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{str(path)!r} is not a MinNet model file.")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} has model-file format version {version!r}; this minnet reads version "
            f"{FORMAT_VERSION}. Use the minnet release that wrote it, or retrain."
        )
    return tensors, meta
