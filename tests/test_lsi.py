"""ATAC peaks as model input through their TF-IDF/LSI projection (minnet.lsi)."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import minnet
from minnet.lsi import PeakProjection

N_DIMS = 20


@pytest.fixture(scope="module")
def lsi_model(sim, sim_split):
    """A model trained on peaks without annotation: the LSI route."""
    train = sim_split
    return minnet.train(sim.rna[train], sim.atac[train], "atac", batch_key="batch", epochs=3,
                        n_lsi_components=N_DIMS, progress=False, seed=0)


def _renamed(adata: ad.AnnData, names: list[str]) -> ad.AnnData:
    out = adata.copy()
    out.var_names = names
    return out


def _parts(name: str) -> tuple[str, int, int]:
    chrom, start, end = name.rsplit("-", 2)
    return chrom, int(start), int(end)


def test_peaks_without_annotation_train_through_a_stored_projection(lsi_model, sim):
    assert lsi_model.config["atac_input"] == "peak_lsi"
    proj = lsi_model.inputs["atac"].peak_projection
    assert lsi_model.features["atac"] == proj.feature_names
    assert len(proj.feature_names) == N_DIMS  # the first of N_DIMS + 1 vectors is dropped
    assert proj.components.shape == (N_DIMS, len(proj.peaks))
    assert set(proj.peaks) <= set(sim.atac.var_names)
    assert np.all(proj.idf >= 1)
    z = lsi_model.embed(sim.atac[:40], "atac")
    assert z.shape == (40, lsi_model.config["n_latent"]) and np.isfinite(z).all()


def test_saved_and_loaded_model_embeds_peaks_identically(lsi_model, sim, tmp_path):
    path = tmp_path / "lsi.safetensors"
    lsi_model.save(path)
    back = minnet.load(path)
    np.testing.assert_array_equal(back.inputs["atac"].peak_projection.components,
                                  lsi_model.inputs["atac"].peak_projection.components)
    np.testing.assert_array_equal(back.embed(sim.atac[:60], "atac"),
                                  lsi_model.embed(sim.atac[:60], "atac"))
    assert back.fingerprint == lsi_model.fingerprint


def test_a_cell_embeds_the_same_alone_and_among_others(lsi_model, sim):
    both = lsi_model.embed(sim.atac[:30], "atac")
    alone = lsi_model.embed(sim.atac[7:8], "atac")
    np.testing.assert_allclose(alone[0], both[7], atol=1e-5)


def test_shifted_query_peaks_map_onto_the_model_peaks(lsi_model, sim):
    query = sim.atac[:50]
    shifted = []
    for name in query.var_names:
        chrom, start, end = _parts(name)
        shifted.append(f"{chrom}:{start + 20}-{end + 20}")  # another format, overlapping
    z = lsi_model.embed(query, "atac")
    z_shift = lsi_model.embed(_renamed(query, shifted), "atac")
    np.testing.assert_allclose(z_shift, z, atol=1e-4)


def test_split_and_merged_query_peaks_sum_onto_the_model_peaks(sim):
    peaks = ["chr1-1000-1999", "chr1-5000-5999", "chr2-100-599", "chr3-100-599"]
    rng = np.random.default_rng(0)
    counts = sp.csr_matrix(rng.poisson(2.0, size=(40, 4)).astype(np.float32))
    proj, _ = PeakProjection.fit(counts, peaks, n_components=2)
    # the first model peak split in two query peaks: their counts add up again
    half = counts[:, [0]].toarray()
    split = sp.csr_matrix(np.hstack([np.floor(half / 2), half - np.floor(half / 2),
                                     counts[:, 1:].toarray()]))
    names = ["chr1-1000-1499", "chr1-1500-1999", "chr1-5000-5999", "chr2-100-599",
             "chr3-100-599"]
    np.testing.assert_allclose(proj.transform(split, names).toarray(),
                               proj.transform(counts, peaks).toarray(), atol=1e-5)
    # one merged query peak over the two chr1 model peaks counts for both of them
    c = counts.toarray()
    merged = sp.csr_matrix(c[:, [0, 2, 3]])
    expected = sp.csr_matrix(np.hstack([c[:, [0]], c[:, [0]], c[:, [2, 3]]]))
    np.testing.assert_allclose(
        proj.transform(merged, ["chr1-900-6100", "chr2-100-599", "chr3-100-599"]).toarray(),
        proj.transform(expected, peaks).toarray(), atol=1e-5)


def test_coverage_is_reported_and_too_little_is_refused(lsi_model, sim, caplog):
    query = sim.atac[:50]
    names = list(query.var_names)
    half = len(names) // 2
    # half the peaks moved to a chromosome the model lacks: covered ~50 % → a warning
    moved = names[:half] + [f"chrUn-{i * 1000 + 1}-{i * 1000 + 500}" for i in
                            range(len(names) - half)]
    with caplog.at_level(logging.WARNING, logger="minnet"):
        z = lsi_model.embed(_renamed(query, moved), "atac")
    assert np.isfinite(z).all()
    assert "overlap" in caplog.text and "of its counts lie on them" in caplog.text
    # nearly nothing overlaps: refused, naming the fraction and the likely cause
    far = [f"chrUn-{i * 1000 + 1}-{i * 1000 + 500}" for i in range(len(names))]
    far[0] = names[0]
    with pytest.raises(minnet.MinNetInputError, match=r"overlap \d+% of the model's.*genome"):
        lsi_model.embed(_renamed(query, far), "atac")


def test_lsi_model_refuses_gene_activity_and_normalised_input(lsi_model, sim):
    act = ad.AnnData(sim.rna.X[:10].copy(), obs=sim.rna.obs[:10].copy(),
                     var=pd.DataFrame(index=sim.rna.var_names))
    with pytest.raises(minnet.MinNetInputError, match="reads ATAC peaks"):
        lsi_model.embed(act, "atac")
    with pytest.raises(minnet.MinNetInputError, match="normalised values"):
        lsi_model.embed(sim.atac[:10], "atac", normalized=True)


def test_peak_input_chooses_the_route(sim, sim_split):
    small = np.flatnonzero(sim_split)[:300]
    kw = {"epochs": 1, "progress": False, "n_lsi_components": 10}
    with_ann = minnet.train(sim.rna[small], sim.atac[small], "atac", annotation=sim.annotation,
                            **kw)
    assert with_ann.config["atac_input"] == "peaks"  # auto + annotation: gene activity
    forced = minnet.train(sim.rna[small], sim.atac[small], "atac", annotation=sim.annotation,
                          peak_input="lsi", **kw)
    assert forced.config["atac_input"] == "peak_lsi"
    with pytest.raises(minnet.MinNetInputError, match="no gene annotation"):
        minnet.train(sim.rna[small], sim.atac[small], "atac", peak_input="gene_activity", **kw)
    with pytest.raises(minnet.MinNetInputError, match="peak_input"):
        minnet.train(sim.rna[small], sim.atac[small], "atac", peak_input="peaks", **kw)


def test_projection_needs_more_peaks_than_components():
    counts = sp.csr_matrix(np.ones((5, 3), dtype=np.float32))
    with pytest.raises(minnet.MinNetInputError, match="too few for an LSI peak input"):
        PeakProjection.fit(counts, ["chr1-1-10", "chr1-20-30", "chr1-40-50"], n_components=5)


def test_a_cells_projection_does_not_depend_on_other_cells_and_empty_cells_stay_zero():
    rng = np.random.default_rng(1)
    counts = sp.csr_matrix(rng.poisson(0.5, size=(60, 40)).astype(np.float32))
    peaks = [f"chr1-{i * 100 + 1}-{i * 100 + 50}" for i in range(40)]
    proj, train_input = PeakProjection.fit(counts, peaks, n_components=5)
    np.testing.assert_allclose(proj.transform(counts, peaks).toarray(), train_input.toarray(),
                               atol=1e-5)
    one = proj.transform(counts[:1], peaks).toarray()
    np.testing.assert_allclose(one, train_input[:1].toarray(), atol=1e-5)
    empty = proj.transform(sp.csr_matrix((1, 40), dtype=np.float32), peaks).toarray()
    assert np.all(empty == 0)


def test_dropout_auto_is_on_for_the_lsi_route_only(lsi_model, sim, sim_split):
    assert lsi_model.config["input_dropout"] == 0.3
    assert lsi_model.config["hidden_dropout"] == 0.2
    small = np.flatnonzero(sim_split)[:200]
    ga = minnet.train(sim.rna[small], sim.atac[small], "atac", annotation=sim.annotation,
                      epochs=1, progress=False)
    assert (ga.config["input_dropout"], ga.config["hidden_dropout"]) == (0.0, 0.0)
    mine = minnet.train(sim.rna[small], sim.atac[small], "atac", annotation=sim.annotation,
                        epochs=1, progress=False, input_dropout=0.1)
    assert (mine.config["input_dropout"], mine.config["hidden_dropout"]) == (0.1, 0.0)


def test_few_training_cells_give_fewer_lsi_dimensions_with_a_warning(caplog):
    rng = np.random.default_rng(2)
    counts = sp.csr_matrix(rng.poisson(1.0, size=(30, 80)).astype(np.float32))
    peaks = [f"chr1-{i * 100 + 1}-{i * 100 + 50}" for i in range(80)]
    with caplog.at_level(logging.WARNING, logger="minnet"):
        proj, x = PeakProjection.fit(counts, peaks, n_components=300)
    assert proj.components.shape[0] == x.shape[1] == 28
    assert "at most 28 LSI dimensions" in caplog.text
    with pytest.raises(minnet.MinNetInputError, match="too few for an LSI"):
        PeakProjection.fit(counts[:3], peaks, n_components=300)


def test_cells_are_projected_to_unit_length_regardless_of_depth():
    rng = np.random.default_rng(3)
    counts = sp.csr_matrix(rng.poisson(0.6, size=(80, 50)).astype(np.float32))
    peaks = [f"chr1-{i * 100 + 1}-{i * 100 + 50}" for i in range(50)]
    proj, x = PeakProjection.fit(counts, peaks, n_components=6)
    assert proj.unit_norm
    lengths = np.linalg.norm(x.toarray(), axis=1)
    has_counts = np.asarray(counts.sum(axis=1)).ravel() > 0
    np.testing.assert_allclose(lengths[has_counts], 1.0, rtol=1e-5)
    # a cell sequenced three times deeper, same profile: the same coordinates
    deeper = proj.transform(counts[:5] * 3, peaks).toarray()
    np.testing.assert_allclose(deeper, x[:5].toarray(), atol=1e-5)
    # a projection of a file from before unit_norm keeps the raw coordinates' lengths
    old = PeakProjection(proj.peaks, proj.idf, proj.components)
    assert not old.unit_norm
    assert not np.allclose(np.linalg.norm(old.transform(counts, peaks).toarray(), axis=1), 1.0)


def test_unit_norm_is_stored_and_files_without_it_read_as_before(lsi_model, sim, tmp_path):
    import json
    import struct

    path = tmp_path / "lsi.safetensors"
    lsi_model.save(path)
    assert minnet.load(path).inputs["atac"].peak_projection.unit_norm
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = json.loads(header["__metadata__"]["minnet"])
    del meta["peak_projection"]["unit_norm"]  # as written before the option existed
    header["__metadata__"]["minnet"] = json.dumps(meta)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    old = tmp_path / "old.safetensors"
    old.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    back = minnet.load(old)
    assert not back.inputs["atac"].peak_projection.unit_norm
    assert not np.allclose(back.embed(sim.atac[:20], "atac"), lsi_model.embed(sim.atac[:20],
                                                                                "atac"))


def test_unpaired_cells_take_part_in_the_projection_but_not_in_the_input():
    rng = np.random.default_rng(2)
    dense = rng.poisson(0.5, size=(60, 40)).astype(np.float32)
    dense[:, 39] = 0
    counts = sp.csr_matrix(dense)
    more = rng.poisson(0.5, size=(30, 40)).astype(np.float32)
    more[:, 39] += 3  # a peak open in the unpaired cells only
    peaks = [f"chr1-{i * 100 + 1}-{i * 100 + 50}" for i in range(40)]
    alone, _ = PeakProjection.fit(counts, peaks, n_components=5)
    both, train_input = PeakProjection.fit(counts, peaks, n_components=5, unpaired=more)
    assert peaks[39] not in alone.peaks and peaks[39] in both.peaks  # idf defined by them
    detected = ((counts.toarray() > 0).sum(axis=0) + (more > 0).sum(axis=0))
    np.testing.assert_allclose(both.idf, 90 / detected[[peaks.index(p) for p in both.peaks]],
                               rtol=1e-6)
    assert train_input.shape == (60, 5)  # the training cells' input only, as embedded later
    np.testing.assert_allclose(both.transform(counts, peaks).toarray(), train_input.toarray(),
                               atol=1e-5)


def test_query_aware_mode_fits_the_projection_on_the_query_atac_too(sim, sim_split, caplog):
    train = np.flatnonzero(sim_split)[:300]
    query = np.flatnonzero(~sim_split)[:200]
    kw = {"epochs": 1, "progress": False, "n_lsi_components": 10, "n_networks": 1}
    ref = minnet.train(sim.rna[train], sim.atac[train], "atac", **kw)
    # the query's peaks called apart (shifted by 20 bp): mapped onto the training peaks
    shifted = [f"{c}-{s + 20}-{e + 20}" for c, s, e in map(_parts, sim.atac.var_names)]
    aq = _renamed(sim.atac[query], shifted)
    with caplog.at_level(logging.INFO, logger="minnet"):
        qa = minnet.train(sim.rna[train], sim.atac[train], "atac",
                          query={"rna": sim.rna[query], "atac": aq}, **kw)
    assert "fitted on 500 cells (200 unpaired)" in caplog.text
    mapped, _ = minnet.genomics.mapped_counts(
        aq.X, minnet.genomics.map_peaks(list(aq.var_names), list(sim.atac.var_names)))
    counts = sp.vstack([sim.atac[train].X, mapped]).tocsr()
    proj = qa.inputs["atac"].peak_projection
    cols = pd.Index(sim.atac.var_names).get_indexer(proj.peaks)
    detected = np.asarray((counts[:, cols] > 0).sum(axis=0)).ravel()
    np.testing.assert_allclose(proj.idf, 500 / detected, rtol=1e-6)
    before = ref.inputs["atac"].peak_projection
    shared = pd.Index(before.peaks).get_indexer(proj.peaks)
    assert not np.allclose(proj.idf[shared >= 0], before.idf[shared[shared >= 0]])
    rna_only = minnet.train(sim.rna[train], sim.atac[train], "atac",
                            query={"rna": sim.rna[query]}, **kw)  # no query ATAC: as before
    np.testing.assert_array_equal(rna_only.inputs["atac"].peak_projection.components,
                                  ref.inputs["atac"].peak_projection.components)
