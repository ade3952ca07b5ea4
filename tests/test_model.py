"""The trained model: embedding, prediction, the model file and its compatibility."""

from __future__ import annotations

import os

import anndata as ad
import numpy as np
import pytest
import torch

import minnet
from minnet import MinNetInputError


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


def test_backed_and_view_inputs(small_model, sim, sim_split, tmp_path):
    q = sim.rna[~sim_split]  # a view
    path = tmp_path / "q.h5ad"
    q.copy().write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    np.testing.assert_allclose(small_model.embed(backed, "rna"), small_model.embed(q, "rna"),
                               atol=1e-6)
    backed.file.close()
    assert os.path.exists(path)


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


def test_model_file_of_version_0_1_0_loads_and_embeds_identically():
    """tests/data/model-0.1.0.safetensors was written by minnet 0.1.0 (before the input spec
    and typed settings); its embeddings of the same simulated cells are stored beside it."""
    from pathlib import Path

    data = Path(__file__).parent / "data"
    model = minnet.load(data / "model-0.1.0.safetensors")
    want = np.load(data / "model-0.1.0-embeddings.npz")
    sim = minnet.datasets.simulate_multiome(n_cells=200, n_cell_types=3, n_batches=2,
                                            n_genes=120, seed=11)
    np.testing.assert_array_equal(model.embed(sim.rna, "rna"), want["rna"])
    np.testing.assert_array_equal(model.embed(sim.atac, "atac"), want["atac"])
    assert model.inputs["atac"].from_peaks and model.settings.network.n_hidden == 8


def test_fingerprint_identifies_weights_and_survives_save_and_load(small_model, tmp_path):
    fp = small_model.fingerprint
    assert len(fp) == 16 and int(fp, 16) >= 0
    small_model.save(tmp_path / "m.safetensors")
    loaded = minnet.load(tmp_path / "m.safetensors")
    assert loaded.fingerprint == fp
    with torch.no_grad():
        next(loaded.module.parameters())[0, 0] += 1.0
    assert loaded.fingerprint != fp
