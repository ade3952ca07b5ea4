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
