"""minnet.train: the training API, its input checks, seeds, and what it leaves alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import minnet
from minnet import MinNetInputError


def _quick(rna, other, **kw):
    kw = {"modality": "atac", "label_key": "cell_type", "epochs": 2, "progress": False,
          "n_hidden": 32, **kw}
    return minnet.train(rna, other, **kw)


@pytest.fixture(scope="module")
def small(sim):
    """300 cells, gene-activity ATAC: fast to train."""
    rna = sim.rna[:300].copy()
    act = minnet.pp.gene_activity(sim.atac[:300], sim.annotation)
    return rna, act


def test_seed_determinism(small):
    rna, act = small
    a = _quick(rna, act, seed=3).embed(rna, "rna")
    b = _quick(rna, act, seed=3).embed(rna, "rna")
    c = _quick(rna, act, seed=4).embed(rna, "rna")
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_reordered_pairs_are_aligned(small):
    rna, act = small
    perm = np.random.default_rng(0).permutation(act.n_obs)
    a = _quick(rna, act, seed=1).embed(rna, "rna")
    b = _quick(rna, act[perm].copy(), seed=1).embed(rna, "rna")
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_training_input_errors(small):
    rna, act = small
    with pytest.raises(MinNetInputError, match="same cells"):
        _quick(rna, act[:-5])
    other = act.copy()
    other.obs_names = [f"x{i}" for i in range(other.n_obs)]
    with pytest.raises(MinNetInputError, match="only in rna"):
        _quick(rna, other)
    with pytest.raises(MinNetInputError, match="'celltype' is not in rna.obs"):
        _quick(rna, act, label_key="celltype")
    bad = rna.copy()
    bad.obs["cell_type"] = bad.obs["cell_type"].astype(object)
    bad.obs.iloc[0, bad.obs.columns.get_loc("cell_type")] = np.nan
    with pytest.raises(MinNetInputError, match="missing values"):
        _quick(bad, act)
    one = rna.copy()
    one.obs["cell_type"] = "T"
    with pytest.raises(MinNetInputError, match="single class"):
        _quick(one, act)
    nan = rna.copy()
    nan.X = nan.X.toarray()
    nan.X[0, 0] = np.nan
    with pytest.raises(MinNetInputError, match="NaN"):
        _quick(nan, act)
    with pytest.raises(MinNetInputError, match="modality"):
        _quick(rna, act, modality="rna")
    with pytest.raises(MinNetInputError, match="AnnData"):
        _quick(rna.X, act)
    dup = rna.copy()
    dup.obs_names = ["c"] * dup.n_obs
    with pytest.raises(MinNetInputError, match="duplicated cell names"):
        _quick(dup, act)


def test_training_inputs_not_modified(small):
    rna, act = small
    r0, a0 = rna.copy(), act.copy()
    _quick(rna, act)
    np.testing.assert_array_equal(rna.X.toarray(), r0.X.toarray())
    np.testing.assert_array_equal(act.X.toarray(), a0.X.toarray())
    pd.testing.assert_frame_equal(rna.obs, r0.obs)
    assert list(rna.obsm) == list(r0.obsm) and list(rna.uns) == list(r0.uns)


def test_adt_training_and_dense_input():
    sim = minnet.datasets.simulate_citeseq(n_cells=300, n_batches=2, seed=1)
    adt = sim.adt.copy()
    adt.X = np.asarray(adt.X.todense()) if hasattr(adt.X, "todense") else adt.X
    model = minnet.train(sim.rna, adt, modality="adt", batch_key="batch", epochs=2,
                         progress=False, n_hidden=32)
    assert model.modalities == ("rna", "adt")
    assert model.features["adt"] == list(sim.adt.var_names)
    z = model.embed(sim.adt, "adt")
    assert z.shape == (300, 32)


def test_training_refuses_an_infinite_radius(sim):
    import minnet

    with pytest.raises(MinNetInputError, match="radius must be a finite number"):
        minnet.train(sim.rna[:60], sim.atac[:60], modality="atac", annotation=sim.annotation,
                     radius=np.inf, progress=False)
