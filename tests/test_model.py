"""Training API, embedding, the model file, and the input checks of train/embed."""

from __future__ import annotations

import os
import struct

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import minnet
from minnet import MinNetInputError, ModelFileError


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


def test_embed_shapes_and_model_summary(small_model, sim, sim_split):
    q = sim.rna[~sim_split]
    z = small_model.embed(q, "rna")
    assert z.shape == (q.n_obs, 32) and z.dtype == np.float32
    za = small_model.embed(sim.atac[~sim_split], "atac")  # peaks → gene activity via the model
    assert za.shape == (q.n_obs, 32)
    assert np.isfinite(z).all() and np.isfinite(za).all()
    s = small_model.summary
    assert 1 <= s["best_epoch"] <= s["epochs_run"] <= 6
    assert s["n_val"] == pytest.approx(0.2 * s["n_cells"], abs=6)
    assert len(small_model.history) == s["epochs_run"]
    assert small_model.modalities == ("rna", "atac")
    assert "MinNetModel(rna + atac" in repr(small_model)


def test_tl_embed_copy_semantics(small_model, sim, sim_split):
    q = sim.rna[~sim_split].copy()
    out = minnet.tl.embed(small_model, q, "rna", key_added="X_test")
    assert "X_test" in out.obsm and "X_test" not in q.obsm  # caller's object untouched
    assert minnet.tl.embed(small_model, q, "rna", copy=False) is None
    assert "X_minnet" in q.obsm
    np.testing.assert_allclose(q.obsm["X_minnet"], out.obsm["X_test"])


def test_save_load_roundtrip_identical(small_model, sim, sim_split, tmp_path):
    path = tmp_path / "model.safetensors"
    small_model.save(path)
    loaded = minnet.load(path)
    q = sim.rna[~sim_split]
    np.testing.assert_array_equal(small_model.embed(q, "rna"), loaded.embed(q, "rna"))
    qa = sim.atac[~sim_split]
    np.testing.assert_array_equal(small_model.embed(qa, "atac"), loaded.embed(qa, "atac"))
    assert loaded.features == small_model.features
    assert loaded.labels == small_model.labels
    assert loaded.summary["best_epoch"] == small_model.summary["best_epoch"]
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp file left


def test_atomic_save_keeps_old_file_on_failure(small_model, tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    small_model.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # as if interrupted mid-write

    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(KeyboardInterrupt):
        small_model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_model_file_errors(small_model, tmp_path):
    path = tmp_path / "m.safetensors"
    small_model.save(path)
    raw = path.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="not a readable MinNet model file"):
        minnet.load(tmp_path / "trunc.safetensors")
    with pytest.raises(FileNotFoundError):
        minnet.load(tmp_path / "absent.safetensors")
    # a different format version in the JSON header
    n = struct.unpack("<Q", raw[:8])[0]
    header = raw[8 : 8 + n].decode()
    edited = header.replace('\\"format_version\\": 1', '\\"format_version\\": 99')
    assert edited != header
    (tmp_path / "v99.safetensors").write_bytes(
        struct.pack("<Q", len(edited)) + edited.encode() + raw[8 + n :]
    )
    with pytest.raises(ModelFileError, match="format version 99"):
        minnet.load(tmp_path / "v99.safetensors")
    # a pickle is not a model file, and nothing in it runs
    import pickle

    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError):
        minnet.load(tmp_path / "evil.safetensors")


def test_seed_determinism(small):
    rna, act = small
    a = _quick(rna, act, seed=3).embed(rna, "rna")
    b = _quick(rna, act, seed=3).embed(rna, "rna")
    c = _quick(rna, act, seed=4).embed(rna, "rna")
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_gene_activity_settings_are_kept_for_query_peaks(sim, tmp_path, caplog):
    kwds = {"distance": 30_000, "decay": 8_000}
    rna, peaks = sim.rna[:300], sim.atac[:300]
    model = _quick(rna, peaks, annotation=sim.annotation, gene_activity_kwds=kwds, seed=0)
    assert model.config["gene_activity"] == {"upstream": 2000, "gene_body": True, **kwds}
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = minnet.load(path)
    query = sim.atac[300:400]
    from_peaks = loaded.embed(query, "atac")
    # the same settings by hand: a fractional gene-activity object is accepted as raw activity
    act = minnet.pp.gene_activity(query, sim.annotation, **kwds)
    assert not np.allclose(act.X.data, np.round(act.X.data))
    np.testing.assert_allclose(loaded.embed(act, "atac"), from_peaks, rtol=1e-5, atol=1e-5)
    # other settings give other activity, hence another embedding
    plain = minnet.pp.gene_activity(query, sim.annotation)
    assert not np.allclose(loaded.embed(plain, "atac"), from_peaks, atol=1e-3)
    assert "made another way" not in caplog.text
    # activity from elsewhere (e.g. Signac) for a model that computed its own: a warning
    elsewhere = ad.AnnData(X=act.X.copy(), obs=pd.DataFrame(index=act.obs_names),
                           var=pd.DataFrame(index=act.var_names))
    elsewhere.X.data = np.round(elsewhere.X.data)
    loaded.embed(elsewhere, "atac")
    assert "made another way" in caplog.text and "distance=30000" in caplog.text


def test_gene_activity_values_do_not_depend_on_the_genes_computed(sim):
    from minnet._inputs import modality_matrix
    from minnet.train import DEFAULTS

    params = DEFAULTS["gene_activity"]
    full, names = modality_matrix(sim.atac[:200], "atac", None, False, sim.annotation, params, "a")
    few = sim.annotation.iloc[::7]
    part, part_names = modality_matrix(sim.atac[:200], "atac", None, False, few, params, "a")
    cols = pd.Index(names).get_indexer(part_names)
    assert len(part_names) > 10 and (cols >= 0).all()
    np.testing.assert_allclose(part.toarray(), full[:, cols].toarray(), rtol=1e-5)


def test_genes_chosen_on_a_sample_of_cells_for_large_data(sim, monkeypatch):
    import sys

    train_module = sys.modules["minnet.train"]  # `minnet.train` is also the function
    rna, peaks = sim.rna[:400], sim.atac[:400]
    kw = {"annotation": sim.annotation, "batch_key": "batch", "n_top_features": 150, "seed": 0}
    whole = _quick(rna, peaks, **kw)
    monkeypatch.setattr(train_module, "FEATURE_SELECTION_CELLS", 250)
    sampled = _quick(rna, peaks, **kw)
    assert sampled.summary["n_cells"] == whole.summary["n_cells"] == 400
    chosen = set(sampled.features["atac"])
    assert len(chosen) >= 140
    # the sample is a large part of the cells, so most genes agree with the full choice
    assert len(chosen & set(whole.features["atac"])) >= 0.7 * len(chosen)
    assert set(sampled.annotation["gene_name"]) == chosen
    z = sampled.embed(sim.atac[400:500], "atac")
    assert z.shape == (100, 32) and np.isfinite(z).all()


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


def test_embed_errors(small_model, sim, sim_split):
    q = sim.rna[~sim_split]
    with pytest.raises(MinNetInputError, match="cannot embed modality 'adt'"):
        small_model.embed(q, "adt")
    renamed = q.copy()
    renamed.var_names = [f"ENSG{i}" for i in range(q.n_vars)]
    with pytest.raises(MinNetInputError, match="shares only 0"):
        small_model.embed(renamed, "rna")
    with pytest.raises(MinNetInputError, match="empty"):
        small_model.embed(q[:0], "rna")


def test_embed_partial_features_warns(small_model, sim, sim_split, caplog):
    q = sim.rna[~sim_split]
    keep = q.var_names[: int(q.n_vars * 0.8)]
    z = small_model.embed(q[:, keep], "rna")
    assert z.shape == (q.n_obs, 32)
    assert "they are set to 0" in caplog.text


def test_predict_labels(small_model, sim, sim_split):
    q = sim.rna[~sim_split]
    pred = small_model.predict_labels(q, "rna")
    assert list(pred.index) == list(q.obs_names)
    assert ((pred["probability"] > 0) & (pred["probability"] <= 1)).all()
    assert (pred["label"].astype(str) == q.obs["cell_type"].astype(str)).mean() > 0.5


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


def test_backed_and_view_inputs(small_model, sim, sim_split, tmp_path):
    q = sim.rna[~sim_split]  # a view
    path = tmp_path / "q.h5ad"
    q.copy().write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    np.testing.assert_allclose(small_model.embed(backed, "rna"), small_model.embed(q, "rna"),
                               atol=1e-6)
    backed.file.close()
    assert os.path.exists(path)


class _Payload:
    """Unpickling this runs code: it creates the file named in ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _rewrite_header(raw: bytes, edit) -> bytes:
    """Return the safetensors file ``raw`` with its JSON header passed through ``edit``."""
    import json

    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    header = edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + raw[8 + n :]


def test_pickle_payloads_are_refused_without_running(small_model, tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    # a raw pickle, and a torch.save() archive (zip + pickle), both carrying the payload
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    import torch

    torch.save({"weights": _Payload(marker)}, tmp_path / "evil.pt")
    # a real model file with a pickle appended as a fake tensor's bytes
    good = tmp_path / "good.safetensors"
    small_model.save(good)
    spliced = good.read_bytes() + pickle.dumps(_Payload(marker))
    (tmp_path / "spliced.safetensors").write_bytes(spliced)
    for name in ("evil.pkl", "evil.pt"):
        with pytest.raises(ModelFileError, match="not a readable MinNet model file"):
            minnet.load(tmp_path / name)
    try:  # extra bytes after the tensors: refused, or ignored, but never unpickled
        minnet.load(tmp_path / "spliced.safetensors")
    except ModelFileError:
        pass
    assert not marker.exists()


def test_edited_metadata_is_refused(small_model, tmp_path):
    import json

    path = tmp_path / "m.safetensors"
    small_model.save(path)
    raw = path.read_bytes()

    def edit_meta(fn):
        def edit(header):
            meta = json.loads(header["__metadata__"]["minnet"])
            fn(meta)
            header["__metadata__"]["minnet"] = json.dumps(meta)
            return header
        return edit

    cases = {
        "fewer_features": lambda m: m["features"]["rna"].pop(),
        "more_labels": lambda m: m["labels"].append("extra"),
        "wider_hidden": lambda m: m["config"].update(n_hidden=m["config"]["n_hidden"] * 2),
        "no_features": lambda m: m.pop("features"),
        "format_name": lambda m: m.update(format="something-else"),
        "gene_activity_key": lambda m: m["config"].update(
            gene_activity={"upstream": 2000, "command": "rm -rf /"}),
    }
    for name, fn in cases.items():
        bad = tmp_path / f"{name}.safetensors"
        bad.write_bytes(_rewrite_header(raw, edit_meta(fn)))
        with pytest.raises(ModelFileError, match="edited or damaged|not a MinNet model file"):
            minnet.load(bad)
    # metadata that is not JSON
    def not_json(header):
        header["__metadata__"]["minnet"] = "{not json"
        return header

    (tmp_path / "nojson.safetensors").write_bytes(_rewrite_header(raw, not_json))
    with pytest.raises(ModelFileError, match="not valid JSON"):
        minnet.load(tmp_path / "nojson.safetensors")
    # a tensor whose shape was edited in the header
    def reshape(header):
        key = next(k for k in header if k != "__metadata__" and len(header[k]["shape"]) == 2)
        header[key]["shape"] = header[key]["shape"][::-1]
        return header

    (tmp_path / "shape.safetensors").write_bytes(_rewrite_header(raw, reshape))
    with pytest.raises(ModelFileError):
        minnet.load(tmp_path / "shape.safetensors")
    # an empty file and a directory
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(ModelFileError):
        minnet.load(tmp_path / "empty.safetensors")
    with pytest.raises((ModelFileError, FileNotFoundError)):
        minnet.load(tmp_path)


def test_wrong_modality_is_noticed(small_model, sim, sim_split, tmp_path):
    q_rna = sim.rna[~sim_split]
    q_act = minnet.pp.gene_activity(sim.atac[~sim_split], sim.annotation)
    with pytest.raises(MinNetInputError, match="look like rna data.*modality='rna'"):
        small_model.embed(q_rna, "atac")  # RNA given as gene activity: same gene names
    with pytest.raises(MinNetInputError, match="look like atac data"):
        minnet.tl.embed(small_model, q_act, "rna")
    # the right modality passes, and the check survives a save/load round trip
    small_model.embed(q_act, "atac")
    path = tmp_path / "m.safetensors"
    small_model.save(path)
    loaded = minnet.load(path)
    assert loaded.feature_means == small_model.feature_means
    with pytest.raises(MinNetInputError, match="look like rna data"):
        loaded.embed(q_rna, "atac")
    # a user who knows better can switch it off
    z = loaded.embed(q_rna, "atac", verify_modality=False)
    assert z.shape == (q_rna.n_obs, 32)
