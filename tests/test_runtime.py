"""Where training runs: device names and the CPU thread count."""

from __future__ import annotations

import pytest
import torch

from minnet import MinNetInputError
from minnet.runtime import resolve_device, torch_threads


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(MinNetInputError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_thread_count_is_restored():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before


def test_unavailable_devices_are_refused_at_once(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(MinNetInputError, match="device='cuda' but CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(MinNetInputError, match="CUDA is not available"):
        resolve_device(torch.device("cuda:0"))
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(MinNetInputError, match="device='mps' but Apple's MPS is not available"):
        resolve_device("mps")
    assert resolve_device("auto") == torch.device("cpu")  # auto falls back, never fails
    with pytest.raises(MinNetInputError, match="unknown device 'meta'"):
        resolve_device("meta")  # tensors without data
    with pytest.raises(MinNetInputError, match="unknown device None"):
        resolve_device(None)


def test_a_cuda_index_beyond_the_machine_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(MinNetInputError, match=r"has 1 CUDA device\(s\) \(cuda:0 to cuda:0\)"):
        resolve_device("cuda:3")
