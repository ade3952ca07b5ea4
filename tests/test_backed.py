"""Embedding h5ad files larger than memory: backed reading in blocks, chunked writing."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pytest

import minnet
from minnet.backed import embed_chunks


@pytest.fixture(scope="module")
def rna_file(sim, tmp_path_factory):
    path = tmp_path_factory.mktemp("backed") / "rna.h5ad"
    held = sim.rna[sim.rna.obs["batch"] == "batch2"].copy()
    held.write_h5ad(path)
    return path, held


def test_a_backed_file_embeds_in_blocks_exactly_as_in_memory(small_model, rna_file):
    path, held = rna_file
    backed = ad.read_h5ad(path, backed="r")
    try:
        blocks = list(embed_chunks(small_model, backed, "rna", chunk_cells=97))
        assert [s for s, _ in blocks] == list(range(0, held.n_obs, 97))
        z = small_model.embed(backed, "rna")  # model.embed reads a backed AnnData in blocks
    finally:
        backed.file.close()
    expected = small_model.embed(held, "rna")
    np.testing.assert_allclose(np.concatenate([b for _, b in blocks]), expected, atol=1e-5)
    np.testing.assert_allclose(z, expected, atol=1e-5)


def test_a_subset_of_a_backed_file_embeds_in_blocks(small_model, rna_file):
    path, held = rna_file
    backed = ad.read_h5ad(path, backed="r")
    pick = np.random.default_rng(1).permutation(held.n_obs)[:150]  # any order
    try:  # a view of a backed object cannot be indexed again by anndata: read from the file
        blocks = list(embed_chunks(small_model, backed[pick], "rna", chunk_cells=40))
    finally:
        backed.file.close()
    np.testing.assert_allclose(np.concatenate([b for _, b in blocks]),
                               small_model.embed(held[pick], "rna"), atol=1e-5)


def test_embed_h5ad_writes_a_copy_with_the_embedding(small_model, rna_file, tmp_path):
    path, held = rna_file
    before = path.read_bytes()
    out = tmp_path / "out.h5ad"
    n = minnet.embed_h5ad(small_model, path, out, "rna", chunk_cells=50)
    assert n == held.n_obs
    assert path.read_bytes() == before  # the input is untouched
    got = ad.read_h5ad(out)
    expected = minnet.tl.embed(small_model, held, "rna")
    np.testing.assert_allclose(got.obsm["X_minnet"], expected.obsm["X_minnet"], atol=1e-5)
    assert got.uns["minnet"]["X_minnet"] == expected.uns["minnet"]["X_minnet"]
    np.testing.assert_array_equal(got.X.toarray(), held.X.toarray())
    # a second key is added beside the first
    minnet.embed_h5ad(small_model, out, tmp_path / "two.h5ad", "rna", key_added="X_again")
    two = ad.read_h5ad(tmp_path / "two.h5ad")
    assert set(two.uns["minnet"]) == {"X_minnet", "X_again"}
    assert {"X_minnet", "X_again"} <= set(two.obsm)


def test_each_log_message_is_given_once_not_per_block(small_model, rna_file, caplog):
    path, held = rna_file
    part = held[:, held.var_names[: int(0.8 * held.n_vars)]].copy()  # some genes missing
    with caplog.at_level(logging.INFO, logger="minnet"):
        list(embed_chunks(small_model, part, "rna", chunk_cells=60))
    lacks = [r for r in caplog.records if "lacks" in r.getMessage()]
    assert len(lacks) == 1  # six blocks, one warning
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="minnet"):
        small_model.embed(part[:60], "rna")  # the filter is gone afterwards
    assert any("lacks" in r.getMessage() for r in caplog.records)


def test_blocks_refuse_query_scaling_and_tl_embed_points_to_embed_h5ad(small_model, rna_file):
    path, _ = rna_file
    backed = ad.read_h5ad(path, backed="r")
    try:
        with pytest.raises(minnet.MinNetInputError, match="scaling='reference'"):
            small_model.embed(backed, "rna", scaling="query")
        with pytest.raises(minnet.MinNetInputError, match="embed_h5ad"):
            minnet.tl.embed(small_model, backed, "rna")
    finally:
        backed.file.close()
    with pytest.raises(minnet.MinNetInputError, match="input file"):
        minnet.embed_h5ad(small_model, path, path, "rna")


@pytest.mark.parametrize("route", ["gene activity", "lsi"])
def test_training_reads_backed_files_in_blocks_exactly_as_in_memory(sim, tmp_path, monkeypatch,
                                                                    route):
    import minnet.inputs as inputs_module

    # small sample and blocks, so the sampled fit and the block reading are what run
    monkeypatch.setattr(inputs_module, "FEATURE_SELECTION_CELLS", 300)
    monkeypatch.setattr(inputs_module, "INPUT_BLOCK_CELLS", 128)
    rna, atac = sim.rna[:700].copy(), sim.atac[:700].copy()
    shuffled = np.random.default_rng(0).permutation(atac.n_obs)
    rna.write_h5ad(tmp_path / "rna.h5ad")
    atac[shuffled].copy().write_h5ad(tmp_path / "atac.h5ad")  # paired by name, in another order
    kw = {"modality": "atac", "label_key": "cell_type", "batch_key": "batch", "epochs": 2,
          "progress": False, "n_hidden": 32, "n_networks": 1, "n_top_features": 120,
          "annotation": sim.annotation if route == "gene activity" else None}
    in_memory = minnet.train(rna, atac, **kw)
    on_disk = [ad.read_h5ad(tmp_path / f, backed="r") for f in ("rna.h5ad", "atac.h5ad")]
    backed = minnet.train(*on_disk, **kw)
    query = sim.atac[900:1000]
    assert backed.features == in_memory.features
    np.testing.assert_array_equal(backed.embed(query, "atac"), in_memory.embed(query, "atac"))
    # a view of a backed file (some of its cells) trains on those cells
    keep = np.arange(700) % 3 > 0
    part = minnet.train(on_disk[0][keep], on_disk[1][rna.obs_names[keep]], **kw)
    assert part.summary["n_cells"] == int(keep.sum())
    expected = minnet.train(rna[keep], atac[keep], **kw)
    np.testing.assert_array_equal(part.embed(query, "atac"), expected.embed(query, "atac"))
    for a in on_disk:
        a.file.close()
