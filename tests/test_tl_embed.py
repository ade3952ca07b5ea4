"""tl.embed: the co-embedding written into obsm."""

from __future__ import annotations

import anndata
import numpy as np
import pytest

import minnet
from minnet import MinNetInputError


def test_tl_embed_copy_semantics(small_model, sim, sim_split):
    q = sim.rna[~sim_split].copy()
    out = minnet.tl.embed(small_model, q, "rna", key_added="X_test")
    assert "X_test" in out.obsm and "X_test" not in q.obsm  # caller's object untouched
    assert minnet.tl.embed(small_model, q, "rna", copy=False) is None
    assert "X_minnet" in q.obsm
    np.testing.assert_allclose(q.obsm["X_minnet"], out.obsm["X_test"])


def test_tl_embed_takes_the_path_of_a_model_file(small_model, sim, sim_split, tmp_path):
    q = sim.rna[~sim_split][:50].copy()
    path = tmp_path / "m.safetensors"
    small_model.save(path)
    want = minnet.tl.embed(small_model, q, "rna")
    for given in (str(path), path):  # str and PathLike
        got = minnet.tl.embed(given, q, "rna")
        np.testing.assert_allclose(got.obsm["X_minnet"], want.obsm["X_minnet"], rtol=1e-6)
        assert got.uns["minnet"]["X_minnet"] == want.uns["minnet"]["X_minnet"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        minnet.tl.embed(tmp_path / "none.safetensors", q, "rna")


@pytest.mark.parametrize("bad", [42, None, {"model": 1}, "adata"])
def test_tl_embed_refuses_what_is_not_a_model(bad, small_model, sim, sim_split):
    q = sim.rna[~sim_split][:20].copy()
    if bad == "adata":  # arguments swapped
        bad, q = q, small_model
    with pytest.raises(MinNetInputError, match=r"^model must be a MinNetModel \(from minnet.train "
                                               r"or minnet.load\) or the path of a model file, "
                                               rf"got {type(bad).__name__}\.$"):
        minnet.tl.embed(bad, q, "rna")


@pytest.mark.parametrize("key", ["X/evil/../../x", "", ".", "a\0b", None, 3])
def test_tl_embed_refuses_keys_h5ad_cannot_store(key, small_model, sim, sim_split):
    q = sim.rna[~sim_split][:20].copy()
    keys = list(q.obsm)
    with pytest.raises(MinNetInputError, match=r"^key_added must be a non-empty string without "
                                               r"'/'"):
        minnet.tl.embed(small_model, q, "rna", key_added=key, copy=False)
    assert list(q.obsm) == keys and "minnet" not in q.uns  # refused before anything was written


def test_tl_embed_result_with_an_unusual_key_reads_back(small_model, sim, sim_split, tmp_path):
    q = sim.rna[~sim_split][:20].copy()
    out = minnet.tl.embed(small_model, q, "rna", key_added="X minnet (v2)")
    out.write_h5ad(tmp_path / "q.h5ad")
    back = anndata.read_h5ad(tmp_path / "q.h5ad")
    np.testing.assert_array_equal(back.obsm["X minnet (v2)"], out.obsm["X minnet (v2)"])
