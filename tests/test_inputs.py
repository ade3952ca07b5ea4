"""The input spec: fitted at training, stored in the model, applied at embedding."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import minnet
from minnet.inputs import InputSpec
from minnet.settings import GeneActivitySettings


def _quick(rna, other, **kw):
    kw = {"modality": "atac", "label_key": "cell_type", "epochs": 2, "progress": False,
          "n_hidden": 32, **kw}
    return minnet.train(rna, other, **kw)


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
    from minnet.inputs import modality_matrix

    params = GeneActivitySettings().as_dict()
    full, names = modality_matrix(sim.atac[:200], "atac", None, False, sim.annotation, params, "a")
    few = sim.annotation.iloc[::7]
    part, part_names = modality_matrix(sim.atac[:200], "atac", None, False, few, params, "a")
    cols = pd.Index(names).get_indexer(part_names)
    assert len(part_names) > 10 and (cols >= 0).all()
    np.testing.assert_allclose(part.toarray(), full[:, cols].toarray(), rtol=1e-5)


def test_genes_chosen_on_a_sample_of_cells_for_large_data(sim, monkeypatch):
    import sys

    inputs_module = sys.modules["minnet.inputs"]
    rna, peaks = sim.rna[:400], sim.atac[:400]
    kw = {"annotation": sim.annotation, "batch_key": "batch", "n_top_features": 150, "seed": 0}
    whole = _quick(rna, peaks, **kw)
    monkeypatch.setattr(inputs_module, "FEATURE_SELECTION_CELLS", 250)
    sampled = _quick(rna, peaks, **kw)
    assert sampled.summary["n_cells"] == whole.summary["n_cells"] == 400
    chosen = set(sampled.features["atac"])
    assert len(chosen) >= 140
    # the sample is a large part of the cells, so most genes agree with the full choice
    assert len(chosen & set(whole.features["atac"])) >= 0.7 * len(chosen)
    assert set(sampled.annotation["gene_name"]) == chosen
    z = sampled.embed(sim.atac[400:500], "atac")
    assert z.shape == (100, 32) and np.isfinite(z).all()


def test_spec_fitted_at_training_is_the_one_applied_at_embedding(small_model, sim, sim_split):
    spec = small_model.inputs["atac"]
    assert spec.from_peaks and spec.features == small_model.features["atac"]
    assert spec.gene_activity == GeneActivitySettings()
    assert set(spec.annotation["gene_name"]) == set(spec.features)
    q = sim.atac[~sim_split]
    x, names = spec.normalized(q)
    aligned = spec.align(x, names)
    assert aligned.shape == (q.n_obs, len(spec.features))
    # embedding goes through exactly these steps
    m, scaler, prepared = small_model.prepare(q, "atac")
    assert m == 1 and (prepared != aligned).nnz == 0
    np.testing.assert_array_equal(scaler.mean, spec.scaler(aligned).mean)


def test_fit_selects_features_per_modality(sim):
    rna = sim.rna[:300]
    spec, x = InputSpec.fit(rna, "rna", n_top_features=50, extra_features=["Gene0000"])
    assert x.shape == (300, len(spec.features)) and 50 <= len(spec.features) <= 51
    assert "Gene0000" in spec.features and spec.gene_activity is None
    np.testing.assert_allclose(spec.feature_means,
                               np.asarray(x.astype(np.float64).mean(axis=0)).ravel(), rtol=1e-9)
    cite = minnet.datasets.simulate_citeseq(n_cells=100, n_proteins=12, seed=0)
    adt, y = InputSpec.fit(cite.adt, "adt", n_top_features=5)
    assert adt.features == list(cite.adt.var_names) and y.shape == (100, 12)  # every protein
    assert adt.config_entries() == {}


def test_stored_spec_round_trips_through_the_model_file(small_model, tmp_path):
    path = tmp_path / "m.safetensors"
    small_model.save(path)
    loaded = minnet.load(path)
    for mod, spec in small_model.inputs.items():
        back = loaded.inputs[mod]
        assert (back.modality, back.features, back.feature_means, back.max_value,
                back.gene_activity, back.from_peaks) == (
            spec.modality, spec.features, spec.feature_means, spec.max_value,
            spec.gene_activity, spec.from_peaks)
    pd.testing.assert_frame_equal(loaded.inputs["atac"].annotation, small_model.annotation,
                                  check_dtype=False)


@pytest.mark.parametrize("bad", ["chr1-100-200 ", "chr1-300-100", "peak_1"])
def test_malformed_query_peaks_get_the_peak_name_error(small_model, sim, sim_split, bad):
    q = sim.atac[~sim_split][:20].copy()
    q.var_names = [bad] + list(q.var_names[1:])
    with pytest.raises(minnet.MinNetInputError, match=r"peak name\(s\).*Rename the peaks|start > end"):
        small_model.embed(q, "atac")


def test_peaks_of_another_genome_build_are_named_as_such(small_model, sim, sim_split, caplog):
    q = sim.atac[~sim_split][:50].copy()
    peaks = minnet.genomics.parse_peak_names(list(q.var_names))
    shifted = [f"{c}-{s + 3_000_000}-{e + 3_000_000}"  # as if lifted to another build
               for c, s, e in zip(peaks["chrom"], peaks["start"], peaks["end"], strict=True)]
    q.var_names = shifted
    try:
        small_model.embed(q, "atac")
    except minnet.MinNetInputError as err:
        assert "another genome build" in str(err)
    else:
        assert "another genome build" in caplog.text
    caplog.clear()
    small_model.embed(sim.atac[~sim_split][:50], "atac")  # the right build: no such warning
    assert "another genome build" not in caplog.text


def test_feature_columns_copy_only_a_real_subset():
    from minnet.inputs import _feature_columns

    x = sp.random(20, 4, density=0.5, random_state=0, format="csr", dtype=np.float32)
    names = ["a", "b", "c", "d"]
    assert _feature_columns(x, names, names) is x  # all of them, in order: no copy
    sub = _feature_columns(x, names, ["d", "a"])
    np.testing.assert_array_equal(sub.toarray(), x.toarray()[:, [3, 0]])


@pytest.mark.parametrize("modality", ["rna", "atac"])
def test_large_data_fits_on_a_sample_and_computes_the_input_in_blocks(sim, monkeypatch,
                                                                      modality):
    import minnet.inputs as inputs_module
    from minnet.pp._scale import Standardizer

    monkeypatch.setattr(inputs_module, "FEATURE_SELECTION_CELLS", 400)
    monkeypatch.setattr(inputs_module, "INPUT_BLOCK_CELLS", 150)
    data = (sim.rna if modality == "rna" else sim.atac)[:1000]
    spec, x = InputSpec.fit(data, modality, n_top_features=80, seed=3)  # atac: LSI of peaks
    # the input of all cells is the fitted spec applied to them, as at embedding
    assert x.shape == (1000, len(spec.features)) and x.has_sorted_indices
    whole, _ = spec.model_input(data)
    np.testing.assert_allclose(x.toarray(), whole.toarray(), rtol=1e-6, atol=1e-7)
    # the statistics are those of every cell, not of the sample
    ref = Standardizer.fit(x, None, spec.max_value)
    np.testing.assert_allclose(spec.scale_mean, ref.mean[0], rtol=1e-6)
    np.testing.assert_allclose(spec.feature_means,
                               np.asarray(x.astype(np.float64).mean(axis=0)).ravel(), rtol=1e-9)
    # the features come from the sample: another seed draws another sample
    other, _ = InputSpec.fit(data, modality, n_top_features=80, seed=4)
    assert other.features != spec.features or other.scale_mean != spec.scale_mean


def test_stack_rows_keeps_every_block_in_order():
    from minnet._utils import stack_rows

    rng = np.random.default_rng(0)
    blocks = [sp.random(n, 7, density=0.3, format="csr", random_state=rng, dtype=np.float32)
              for n in (3, 0, 5, 1)]
    stacked = stack_rows(iter(blocks), 7)
    np.testing.assert_array_equal(stacked.toarray(), sp.vstack(blocks).toarray())
    assert stacked.dtype == np.float32 and stacked.shape == (9, 7)
