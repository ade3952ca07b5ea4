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
    # identical up to float32 rounding: the stored arrays were made on another CPU, whose
    # matrix kernels may round differently, and since session 12 the normalised rows keep
    # their features in sorted order (in-place scaling) where 0.1.0 held them reversed, which
    # changes the order of the first layer's sums (differences up to ~7e-6 measured)
    np.testing.assert_allclose(model.embed(sim.rna, "rna"), want["rna"], rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(model.embed(sim.atac, "atac"), want["atac"], rtol=1e-4, atol=2e-5)
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


# --- the model file cannot lie: what load() refuses ---------------------------------------------
def _edited_copy(small_model, tmp_path, edit, name="edited.safetensors"):
    """``small_model`` saved, its metadata passed through ``edit`` (in place), written back."""
    import json

    from .test_io import _rewrite_header

    path = tmp_path / "m.safetensors"
    small_model.save(path)

    def edit_header(header):
        meta = json.loads(header["__metadata__"]["minnet"])
        edit(meta)
        header["__metadata__"]["minnet"] = json.dumps(meta)
        return header

    out = tmp_path / name
    out.write_bytes(_rewrite_header(path.read_bytes(), edit_header))
    return out


@pytest.mark.parametrize("modalities", [["atac", "rna"], ["rna", "rna"], ["rna"],
                                        ["rna", "atac", "adt"], "rna+atac"])
def test_reversed_or_unknown_modalities_are_refused(small_model, tmp_path, modalities):
    # reversed, the RNA would go through the ATAC encoder and embed as nonsense
    path = _edited_copy(small_model, tmp_path, lambda m: m.update(modalities=modalities))
    with pytest.raises(minnet.ModelFileError, match="edited or damaged: 'modalities' is .*"
                                                    "\\['rna', 'atac'\\] or \\['rna', 'adt'\\]"):
        minnet.load(path)


def _set(key, value):
    return lambda m: m.update({key: value})


def _set_config(key, value):
    return lambda m: m["config"].update({key: value})


def _set_first(key, modality, value):
    return lambda m: m[key][modality].__setitem__(0, value)


@pytest.mark.parametrize("edit, message", [
    (_set_first("feature_means", "rna", "high"), "feature_means\\['rna'\\] holds 1 entries that "
                                                 "are not numbers, e.g. 'high'"),
    (_set_first("feature_means", "atac", float("nan")), "feature_means\\['atac'\\] holds 1 "
                                                         "values that are not finite"),
    (_set("feature_means", [1.0, 2.0]), "'feature_means' must hold one entry per modality"),
    (_set("summary", [1, 2]), "'summary' is a list, not a dict"),
    (lambda m: m["summary"].update(best_val_accuracy="high"), "summary\\['best_val_accuracy'\\]"),
    (lambda m: m["summary"].update(best_epoch=999), "'best_epoch'\\] 999 is not an epoch"),
    (lambda m: m["labels"].__setitem__(1, m["labels"][0]), "labels holds duplicated names"),
    (lambda m: m["features"]["atac"].__setitem__(1, m["features"]["atac"][0]),
     "features\\['atac'\\] holds duplicated names"),
    (lambda m: m["features"]["rna"].__setitem__(0, 7), "features\\['rna'\\] holds 1 entries "
                                                       "that are not names"),
    (_set_config("lr", float("nan")), "config: lr must be a finite number"),
    (_set_config("max_value", float("inf")), "config: max_value must be a finite number"),
    (_set_config("margin", "wide"), "config: margin must be a finite number"),
    (_set_config("n_hidden", 256.0), "config: n_hidden must be an integer"),
    (_set_config("patience", -1), "config: patience must be an integer"),
    (_set_config("label_key", ["cell_type"]), "config\\['label_key'\\] is \\['cell_type'\\]"),
    (_set("config", None), "'config' is a NoneType, not a dict"),
    (lambda m: m["config"]["gene_activity"].update(distance=10**19), "distance=10000000000000000000 bp is beyond"),
    (lambda m: m["config"]["gene_activity"].update(decay=float("nan")), "decay must be a finite"),
    (lambda m: m["scale_std"]["rna"].__setitem__(0, 0.0), "scale_std\\['rna'\\] holds 1 values "
                                                          "that are not finite and positive"),
    (_set("scale_std", None), "'scale_mean' and 'scale_std' must be stored together"),
])
def test_metadata_that_contradicts_itself_is_refused(small_model, tmp_path, edit, message):
    path = _edited_copy(small_model, tmp_path, edit)
    with pytest.raises(minnet.ModelFileError, match=f"was edited or damaged: .*{message}.*"
                                                    "Re-save the model"):
        minnet.load(path)


def test_broken_annotation_in_the_model_blames_the_file_at_load(small_model, tmp_path):
    # before, these loaded and the embedding of ATAC peaks blamed the user's data
    cases = {
        "no_tss": (lambda m: m["annotation"].pop("tss"),
                   "its gene annotation cannot be read \\(annotation is missing required"),
        "bad_strand": (lambda m: m["annotation"].update(
            strand=["?"] * len(m["annotation"]["strand"])), "its gene annotation cannot be read"),
        "other_genes": (lambda m: m["annotation"].update(
            gene_name=[f"X{i}" for i in range(len(m["annotation"]["gene_name"]))]),
            "of the model's ATAC genes are not in its gene annotation"),
        "dropped": (_set("annotation", None), "computes gene activity from peaks but stores no "
                                              "gene annotation"),
        "ragged": (lambda m: m["annotation"]["tss"].pop(), "'annotation' has columns of "
                                                           "different lengths"),
    }
    for name, (edit, message) in cases.items():
        path = _edited_copy(small_model, tmp_path, edit, f"{name}.safetensors")
        with pytest.raises(minnet.ModelFileError, match=f"edited or damaged: .*{message}"):
            minnet.load(path)


def test_metadata_numbers_never_size_an_allocation(small_model, tmp_path, monkeypatch):
    """A 0.7 MB file whose metadata claims n_hidden = 400000 used to build a 1 GB network first;
    now the network's sizes come from the tensors' shapes, checked before anything is built."""
    built = []
    real = minnet.model.MinNetModule

    def recording(*args, **kwargs):
        built.append((args, str(torch.get_default_device())))
        return real(*args, **kwargs)

    monkeypatch.setattr(minnet.model, "MinNetModule", recording)
    path = _edited_copy(small_model, tmp_path, _set_config("n_hidden", 400_000))
    assert path.stat().st_size < 2_000_000
    with pytest.raises(minnet.ModelFileError, match="config n_hidden is 400000 but the weights "
                                                    "have 256"):
        minnet.load(path)
    assert built == []  # nothing built, not even on the meta device
    # the same for a longer label list or feature list: the shapes decide, checked first
    path = _edited_copy(small_model, tmp_path, lambda m: m["labels"].extend(
        f"extra{i}" for i in range(100_000)))
    with pytest.raises(minnet.ModelFileError, match="tensor 'classifier\\.(weight|bias)' is "
                                                    "float32 of shape \\[6.* 100006 cell types"):
        minnet.load(path)
    assert all(device == "meta" for _, device in built)
    # a genuine file: the network has the tensors' sizes
    built.clear()
    small_model.save(tmp_path / "good.safetensors")
    minnet.load(tmp_path / "good.safetensors")
    assert built == [(((599, 600), 6, 256, 32), "meta"), (((599, 600), 6, 256, 32), "cpu")]


def test_tensors_of_another_network_are_refused(small_model, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    small_model.save(tmp_path / "m.safetensors")
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as fh:
        metadata = fh.metadata()
    state = {k: v.clone() for k, v in small_model.module.state_dict().items()}
    negative_var = dict(state)
    negative_var["encoders.0.2.running_var"] = -state["encoders.0.2.running_var"].abs() - 1
    cases = {
        "float64": ({**state, "head.weight": state["head.weight"].double()},
                    "tensor 'head.weight' is float64 of shape \\[32, 256\\] but .* need float32"),
        "extra": ({**state, "extra.weight": torch.zeros(3)}, "unexpected tensors \\['extra.weight'\\]"),
        "missing": ({k: v for k, v in state.items() if k != "head.bias"},
                    "missing tensors \\['head.bias'\\]"),
        "transposed": ({**state, "classifier.weight": state["classifier.weight"].T.contiguous()},
                       "tensor 'classifier.weight' is float32 of shape \\[256, 6\\]"),
        "negative_variance": (negative_var, "'encoders.0.2.running_var' holds negative "
                                            "variances"),
    }
    for name, (tensors, message) in cases.items():
        save_file(tensors, str(tmp_path / f"{name}.safetensors"), metadata=metadata)
        with pytest.raises(minnet.ModelFileError, match=f"edited or damaged: .*{message}"):
            minnet.load(tmp_path / f"{name}.safetensors")


def test_scaling_statistics_are_saved_and_loaded(small_model, tmp_path):
    small_model.save(tmp_path / "m.safetensors")
    loaded = minnet.load(tmp_path / "m.safetensors")
    for m, spec in small_model.inputs.items():
        assert spec.scale_mean is not None
        assert loaded.inputs[m].scale_mean == [float(v) for v in spec.scale_mean]
        assert loaded.inputs[m].scale_std == [float(v) for v in spec.scale_std]


def test_a_cells_embedding_does_not_depend_on_the_other_cells(small_model, sim, sim_split):
    q = sim.rna[~sim_split]
    everything = small_model.embed(q, "rna")
    alone = np.vstack([small_model.embed(q[[i]], "rna") for i in range(5)])
    np.testing.assert_allclose(alone, everything[:5], atol=1e-5)
    assert not np.allclose(alone[0], alone[1])  # single cells are not all the same point
    one_type = (q.obs["cell_type"] == q.obs["cell_type"].iloc[0]).to_numpy()
    np.testing.assert_allclose(small_model.embed(q[one_type], "rna"), everything[one_type],
                               atol=1e-5)
    # a one-cell batch under batch_key is embedded like any other cell
    np.testing.assert_allclose(small_model.embed(q, "rna", batch_key="batch"), everything,
                               atol=1e-5)
    # the same holds for ATAC given as peaks (gene activity per cell)
    atac = small_model.embed(sim.atac[~sim_split][:40], "atac")
    np.testing.assert_allclose(small_model.embed(sim.atac[~sim_split][[3]], "atac"), atac[[3]],
                               atol=1e-5)


def test_query_scaling_is_an_explicit_option_that_warns_on_small_queries(
        small_model, sim, sim_split, caplog):
    q = sim.rna[~sim_split]
    ref = small_model.embed(q, "rna")
    own = small_model.embed(q, "rna", scaling="query")
    assert not np.allclose(ref, own, atol=1e-3)
    assert "scaling='query'" not in caplog.text
    small_model.embed(q[:10], "rna", scaling="query")
    assert "has only 10 cell(s)" in caplog.text
    with pytest.raises(MinNetInputError, match="scaling must be 'reference' or 'query'"):
        small_model.embed(q, "rna", scaling="batch")


def test_models_of_0_1_0_scale_each_query_by_its_own_and_say_so(caplog):
    from pathlib import Path

    model = minnet.load(Path(__file__).parent / "data" / "model-0.1.0.safetensors")
    sim = minnet.datasets.simulate_multiome(n_cells=200, n_cell_types=3, n_batches=2,
                                            n_genes=120, seed=11)
    z = model.embed(sim.rna, "rna")
    assert "stores no training statistics" in caplog.text
    np.testing.assert_array_equal(z, model.embed(sim.rna, "rna", scaling="query"))


def test_cells_without_counts_are_reported(small_model, sim, sim_split, caplog):
    q = sim.rna[~sim_split][:30].copy()
    x = q.X.toarray()
    x[:4] = 0
    q.X = x
    small_model.embed(q, "rna")
    assert "4 of 30 cells have no counts in the model's rna features" in caplog.text
