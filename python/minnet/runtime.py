"""Where training runs: the torch device and the CPU thread count."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ._utils import MinNetInputError


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device to train on, checked to exist on this machine.

    Parameters
    ----------
    device
        ``"auto"`` picks CUDA, then Apple MPS, then CPU; ``"cpu"``, ``"cuda"`` (``"cuda:1"``),
        ``"mps"`` or a :class:`torch.device`.

    Returns
    -------
    torch.device

    Raises
    ------
    MinNetInputError
        For an unknown device name, or a CUDA / MPS device this machine (or this build of
        torch) does not have: checked here, before any work, rather than failing in torch after
        the preprocessing.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if isinstance(device, torch.device):
        dev = device
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise MinNetInputError(
                f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'mps'.") from err
    if dev.type not in ("cpu", "cuda", "mps"):  # e.g. 'meta': tensors without data
        raise MinNetInputError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'mps'.")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise MinNetInputError(
                f"device={str(device)!r} but CUDA is not available here (no NVIDIA GPU, or a "
                "CPU-only build of torch); use device='auto' (CUDA, then MPS, then CPU) or "
                "device='cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise MinNetInputError(
                f"device={str(device)!r} but this machine has {torch.cuda.device_count()} CUDA "
                f"device(s) (cuda:0 to cuda:{torch.cuda.device_count() - 1}); pick one of them."
            )
    elif dev.type == "mps" and not _mps_available():
        raise MinNetInputError(
            f"device={str(device)!r} but Apple's MPS is not available here (it needs Apple "
            "silicon and a torch built with MPS); use device='auto' or device='cpu'."
        )
    return dev


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's CPU thread count (``None`` leaves it alone)."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)
