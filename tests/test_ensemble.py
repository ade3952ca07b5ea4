"""Seed ensembles: alignment of the networks, training, the model file, resuming."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import minnet
from minnet import MinNetInputError
from minnet.ensemble import MinNetEnsemble, align
from minnet.io import ModelFileError, read_model_file, write_model_file
from minnet.module import MinNetModule
from minnet.settings import AUTO_NETWORKS, ENSEMBLE_MAX_CELLS, NetworkSettings


def _rotated(member: MinNetModule, q: torch.Tensor, shift: torch.Tensor) -> MinNetModule:
    """The same network whose embedding is ``z · q + shift`` (q orthogonal)."""
    out = copy.deepcopy(member)
    with torch.no_grad():
        out.head.weight.copy_(q.T @ member.head.weight)
        out.head.bias.copy_(member.head.bias @ q + shift)
    return out.eval()


def test_align_undoes_rotations_and_averages_probabilities():
    torch.manual_seed(0)
    first = MinNetModule((20, 10), 4, 16, 5).eval()
    q, _ = torch.linalg.qr(torch.randn(5, 5))
    second = _rotated(first, q, torch.full((5,), 3.0))
    with torch.no_grad():  # another classifier, so the probabilities differ
        second.classifier.weight.mul_(-1.0)
    x = [torch.randn(300, 20), torch.randn(300, 10)]
    ensemble = align([first, second], lambda m, rows: x[m][rows].numpy(), np.arange(300),
                     np.random.default_rng(0))
    for m in (0, 1):
        z, logits = ensemble(x[m], m)
        z0, l0 = first(x[m], m)
        _, l1 = second(x[m], m)
        torch.testing.assert_close(z, z0, atol=1e-4, rtol=1e-4)  # the rotation is undone
        mean = (torch.softmax(l0, 1) + torch.softmax(l1, 1)) / 2
        torch.testing.assert_close(torch.softmax(logits, 1), mean, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ensemble.rotation[1] @ ensemble.rotation[1].T, torch.eye(5),
                               atol=1e-5, rtol=1e-5)


def test_auto_is_an_ensemble_below_the_cell_limit():
    assert NetworkSettings().networks_for(1_000) == AUTO_NETWORKS > 1
    assert NetworkSettings().networks_for(ENSEMBLE_MAX_CELLS + 1) == 1
    assert NetworkSettings(n_networks=2).networks_for(10**7) == 2
    for bad in (0, 1.5, "three"):
        with pytest.raises(MinNetInputError, match="n_networks"):
            NetworkSettings(n_networks=bad)


def _train(rna, act, **kw):
    kw = {"modality": "atac", "label_key": "cell_type", "progress": False, "n_hidden": 32,
          "seed": 0, "patience": None, "epochs": 3, "n_networks": 3, **kw}
    return minnet.train(rna, act, **kw)


@pytest.fixture(scope="module")
def trio(small_activity):
    return _train(*small_activity)


def test_an_ensemble_embeds_in_the_latent_dimension_and_round_trips(small_activity, trio, tmp_path):
    rna, act = small_activity
    assert isinstance(trio.module, MinNetEnsemble) and len(trio.module.members) == 3
    assert trio.config["n_networks"] == 3 and "3 networks" in repr(trio)
    nets = trio.summary["networks"]
    assert len(nets) == trio.summary["networks_finished"] == 3
    assert nets[0]["history"] == trio.summary["history"]  # the summary's top: network 0
    assert nets[1]["history"] != nets[0]["history"]  # own seed, own pairs
    z = trio.embed(rna, "rna")
    assert z.shape == (300, 32) and np.isfinite(z).all()
    prob = trio.class_probabilities(act, "atac")
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, atol=1e-5)
    path = tmp_path / "trio.minnet"
    trio.save(path)
    back = minnet.load(path)
    np.testing.assert_array_equal(back.embed(rna, "rna"), z)
    assert back.fingerprint == trio.fingerprint
    assert _train(rna, act).fingerprint == trio.fingerprint  # reproducible


def test_one_network_is_the_plain_network(small_activity, trio):
    single = _train(*small_activity, n_networks=1)
    assert isinstance(single.module, MinNetModule) and "networks" not in single.summary
    # network 0 of the ensemble is the single run: same seed, same stream
    member = trio.module.members[0].state_dict()
    for name, tensor in single.module.state_dict().items():
        torch.testing.assert_close(member[name], tensor, rtol=0, atol=0)


def test_a_file_whose_networks_disagree_with_its_summary_is_refused(trio, tmp_path):
    path = tmp_path / "trio.minnet"
    trio.save(path)
    tensors, meta = read_model_file(path)
    broken = tmp_path / "broken.minnet"
    write_model_file(broken, {k: v for k, v in tensors.items()
                              if not k.startswith("members.2.")},
                     meta)
    with pytest.raises(ModelFileError, match="networks"):
        minnet.load(broken)


def test_ctrl_c_keeps_the_trained_networks_and_resume_continues_them(small_activity, trio, tmp_path,
                                                                       ctrl_c):
    rna, act = small_activity
    path = tmp_path / "run.minnet"
    ctrl_c.at(5)  # network 0 ran 3 epochs; network 1 is in its second
    cut = _train(rna, act, checkpoint=path)
    assert cut.summary["interrupted"] is True
    assert len(cut.module.members) == 2 and cut.summary["networks_finished"] == 1
    saved = minnet.load(path)
    assert saved.summary["networks_finished"] == 1
    np.testing.assert_array_equal(saved.embed(rna, "rna"), cut.embed(rna, "rna"))
    ctrl_c.off()
    resumed = _train(rna, act, checkpoint=path, resume=True)
    assert len(resumed.module.members) == 3 and resumed.summary["networks_finished"] == 3
    assert resumed.summary["interrupted"] is False
    # network 0 was kept as it was; network 1 continued its history
    torch.testing.assert_close(resumed.module.members[0].state_dict(),
                               trio.module.members[0].state_dict(), rtol=0, atol=0)
    assert [r["epoch"] for r in resumed.summary["networks"][1]["history"]] == [1, 2, 3]
    assert resumed.summary["networks"][1]["history"][0] == \
        cut.summary["networks"][1]["history"][0]
    # more epochs: every network continues, as a single network does
    longer = _train(rna, act, checkpoint=path, resume=True, epochs=5)
    assert [[r["epoch"] for r in n["history"]][-1] for n in longer.summary["networks"]] == \
        [5, 5, 5]
    with pytest.raises(MinNetInputError, match="n_networks"):
        _train(rna, act, checkpoint=path, resume=True, n_networks=2)


def test_ctrl_c_before_a_network_learnt_anything_keeps_the_others(small_activity, ctrl_c):
    ctrl_c.at(4)  # network 1's first epoch
    cut = _train(*small_activity)
    assert cut.summary["interrupted"] is True and len(cut.module.members) == 1
