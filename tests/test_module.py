"""The network: encoder layers and output shapes."""

from __future__ import annotations

import torch

from minnet.module import MinNetModule


def test_network_shapes():
    net = MinNetModule((20, 7), n_classes=4, n_hidden=16, n_latent=32)
    z, logits = net(torch.randn(5, 20), 0)
    assert z.shape == (5, 32) and logits.shape == (5, 4)
    z, logits = net(torch.randn(5, 7), 1)
    assert z.shape == (5, 32)
    enc = net.encoders[0]
    assert isinstance(enc[0], torch.nn.Linear) and isinstance(enc[1], torch.nn.Tanh)
    assert isinstance(enc[2], torch.nn.BatchNorm1d)
