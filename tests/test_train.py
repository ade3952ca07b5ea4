"""minnet.train: the training API, its input checks, seeds, and what it leaves alone."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

import minnet
from minnet import MinNetInputError


def _quick(rna, other=None, **kw):
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


# ---------------------------------------------------------------- careless training inputs (#14)
def test_labels_and_batches_that_mean_missing_are_refused(small):
    rna, act = small
    bad = rna.copy()
    labels = bad.obs["cell_type"].astype(str).to_numpy()
    labels[:3] = "nan"  # what astype(str) makes of NaN
    labels[3] = "None"
    bad.obs["cell_type"] = labels
    with pytest.raises(MinNetInputError, match=r"4 cell\(s\) whose label means missing") as exc:
        _quick(bad, act)
    assert "'nan': 3" in str(exc.value) and "'None': 1" in str(exc.value)
    batch = rna.copy()
    batch.obs["batch"] = np.where(np.arange(rna.n_obs) < 5, "", "b1")
    with pytest.raises(MinNetInputError, match=r"5 cell\(s\) whose batch means missing"):
        _quick(batch, act, batch_key="batch")
    batch.obs["batch"] = np.where(np.arange(rna.n_obs) < 5, None, "b1")  # real missing values
    with pytest.raises(MinNetInputError, match=r"rna.obs\['batch'\] has 5 missing values"):
        _quick(batch, act, batch_key="batch")


def test_classes_too_small_for_the_validation_split_warn(small, caplog):
    rna, act = small
    many = rna.copy()
    many.obs["cell_type"] = [f"t{i // 2}" for i in range(rna.n_obs)]  # 150 classes of 2 cells
    model = _quick(many, act, epochs=1)
    assert "150 classes for 300 cells" in caplog.text and "coarser labels" in caplog.text
    assert "leaves 0 validation cell(s)" in caplog.text and "validation_fraction=0" in caplog.text
    assert model.summary["n_val"] == 0


def test_rare_classes_and_label_variants_warn(caplog):
    from minnet.train import _warn_about_classes

    codes = np.repeat([0, 1, 2, 3], [100, 100, 2, 1])
    _warn_about_classes(codes, ["B", "B ", "NK", "T"], 0.2, "cell_type")
    assert "2 of 4 classes of rna.obs['cell_type'] are too small" in caplog.text
    assert "'NK' (2)" in caplog.text and "'T' (1)" in caplog.text
    assert "differ only by case or surrounding spaces (['B', 'B '])" in caplog.text
    caplog.clear()
    _warn_about_classes(codes, ["A", "B", "C", "D"], 0.0, "cell_type")  # no split: no warning
    assert caplog.text == ""


def test_swapped_modalities_are_refused(sim):
    with pytest.raises(MinNetInputError, match="first argument of train is the RNA"):
        minnet.train(sim.atac[:60], sim.rna[:60], annotation=sim.annotation, progress=False)
    with pytest.raises(MinNetInputError, match="modality='adt' but .* look like ATAC peaks"):
        minnet.train(sim.rna[:60], sim.atac[:60], modality="adt", progress=False)


def test_batch_problems_are_refused_before_any_work(small, caplog):
    rna, act = small
    lonely = rna.copy()
    lonely.obs["batch"] = np.where(np.arange(rna.n_obs) == 0, "lonely", "b1")
    with pytest.raises(MinNetInputError, match=r"'lonely' \(1 cell\)") as exc:
        _quick(lonely, act, batch_key="batch")
    assert "Merge it into another batch" in str(exc.value)
    with pytest.raises(MinNetInputError, match="label_key and batch_key are both"):
        _quick(rna, act, batch_key="cell_type")
    from minnet.train import _cell_columns

    confounded = rna.copy()
    confounded.obs["sample"] = "s_" + confounded.obs["cell_type"].astype(str)
    _cell_columns(confounded, "cell_type", "sample", 0.2)
    assert "batches and cell types are confounded" in caplog.text


def test_bad_runtime_settings_fail_at_once(small, monkeypatch):
    rna, act = small
    called = []
    train_module = importlib.import_module("minnet.train")  # minnet.train is the function
    monkeypatch.setattr(train_module.InputSpec, "fit", lambda *a, **k: called.append(1))
    with pytest.raises(MinNetInputError, match="epochs must be an integer >= 1, got 2.5"):
        _quick(rna, act, epochs=2.5)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(MinNetInputError, match="CUDA is not available"):
        _quick(rna, act, device="cuda")
    assert called == []  # refused before any preprocessing


def test_extra_feature_given_as_a_string_is_one_feature(small):
    rna, act = small
    from minnet.train import _check_pairing

    gene = rna.var_names[5]
    assert _check_pairing(rna, act, "atac", gene, None) == ([gene], None)
    assert _check_pairing(rna, act, "atac", None, (gene,)) == (None, [gene])


def test_query_aware_mode_trains_on_unpaired_query_cells(sim, sim_split):
    train, query = np.flatnonzero(sim_split)[:300], np.flatnonzero(~sim_split)[:200]
    rna, act = sim.rna, minnet.pp.gene_activity(sim.atac, sim.annotation)
    rq, aq = rna[query].copy(), act[query].copy()
    before = (rq.X.copy(), aq.X.copy())
    ref = _quick(rna[train], act[train], seed=1)
    qa = _quick(rna[train], act[train], seed=1, query={"rna": rq, "atac": aq})
    assert qa.summary["query_cells"] == {"rna": 200, "atac": 200}
    assert ref.summary["query_cells"] is None and qa.config["query_weight"] == 1.0
    # the query's loss changed the network, so its embedding of the query differs
    assert not np.allclose(qa.embed(aq, "atac"), ref.embed(aq, "atac"))
    # reproducible, and the query objects are not modified
    again = _quick(rna[train], act[train], seed=1, query={"rna": rq, "atac": aq})
    np.testing.assert_array_equal(again.embed(aq, "atac"), qa.embed(aq, "atac"))
    assert (rq.X != before[0]).nnz == 0 and (aq.X != before[1]).nnz == 0
    # one modality alone is allowed (self-training only)
    one = _quick(rna[train], act[train], seed=1, query={"atac": aq})
    assert one.summary["query_cells"] == {"atac": 200}


def test_query_aware_mode_refuses_unknown_keys_and_wrong_types(small):
    rna, act = small
    with pytest.raises(MinNetInputError, match="keys 'rna' and/or 'atac'"):
        _quick(rna, act, query={"adt": act})
    with pytest.raises(MinNetInputError, match="keys 'rna' and/or 'atac'"):
        _quick(rna, act, query=[rna, act])
    with pytest.raises(MinNetInputError, match="query_weight"):
        _quick(rna, act, query={"rna": rna}, query_weight=-1.0)


@pytest.mark.filterwarnings("ignore:Cannot join columns:UserWarning")
def test_train_reads_both_modalities_from_a_mudata(small):
    mudata = pytest.importorskip("mudata")
    rna, act = small
    mdata = mudata.MuData({"rna": rna.copy(), "atac": act.copy()})
    from_mudata = _quick(mdata, seed=3)
    from_anndata = _quick(rna, act, seed=3)
    np.testing.assert_array_equal(from_mudata.embed(act[:20], "atac"),
                                  from_anndata.embed(act[:20], "atac"))
    with pytest.raises(MinNetInputError, match="either a MuData"):
        _quick(mdata, act)
    with pytest.raises(MinNetInputError, match="second argument"):
        _quick(rna, None)


def test_validation_holds_out_whole_batches_when_there_are_three_or_more():
    split = importlib.import_module("minnet.train")._split
    rng = np.random.default_rng(0)
    batches = np.repeat(["a", "b", "c", "d"], 50)
    labels = np.tile(np.arange(5), 40)
    train, val = split(labels, 0.2, rng, batches, "auto")
    assert np.unique(batches[val]).size == 1 and val.size == 50  # one whole batch
    assert not set(batches[val]) & set(batches[train])
    # two batches: "auto" falls back to cells stratified by type
    two = np.repeat(["a", "b"], 100)
    train, val = split(labels, 0.2, rng, two, "auto")
    assert set(two[val]) == {"a", "b"} and val.size == 40
    # a type found only in the held-out batch stays in training
    rare = labels.copy()
    rare[batches == "d"] = 9
    for seed in range(8):
        train, val = split(rare, 0.2, np.random.default_rng(seed), batches, "batch")
        assert 9 not in set(rare[val])
    with pytest.raises(MinNetInputError, match="needs batch_key"):
        split(labels, 0.2, rng, None, "batch")


def test_validation_split_reaches_training(sim):
    every = np.arange(0, sim.rna.n_obs, 3)  # cells of all three batches
    rna, act = sim.rna[every], minnet.pp.gene_activity(sim.atac[every], sim.annotation)
    by_batch = _quick(rna, act, batch_key="batch", validation_split="auto")
    sizes = rna.obs["batch"].value_counts()
    assert by_batch.summary["n_val"] in set(sizes.tolist())
    assert by_batch.config["validation_split"] == "auto"
    by_cells = _quick(rna, act, batch_key="batch")
    assert by_cells.summary["n_val"] not in set(sizes.tolist())
