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


# --- MuData input ------------------------------------------------------------------------------


def _query_mudata(sim, sim_split, n=60, other_key="atac"):
    import mudata

    idx = np.flatnonzero(~sim_split)[:n]
    return mudata.MuData({"rna": sim.rna[idx].copy(), other_key: sim.atac[idx].copy()})


def test_tl_embed_mudata_writes_into_the_embedded_modality(small_model, sim, sim_split):
    m = _query_mudata(sim, sim_split)
    want = minnet.tl.embed(small_model, m.mod["atac"], "atac", key_added="X_z")
    out = minnet.tl.embed(small_model, m, "atac", key_added="X_z")
    assert type(out) is type(m) and out is not m
    np.testing.assert_array_equal(out.mod["atac"].obsm["X_z"], want.obsm["X_z"])
    assert out.mod["atac"].uns["minnet"]["X_z"] == want.uns["minnet"]["X_z"]
    assert out.mod["atac"].uns["minnet"]["X_z"]["modality"] == "atac"
    assert "X_z" not in out.mod["rna"].obsm and "minnet" not in out.mod["rna"].uns
    assert "X_z" not in m.mod["atac"].obsm and "minnet" not in m.mod["atac"].uns  # copy=True
    rna = minnet.tl.embed(small_model, m, "rna")
    np.testing.assert_array_equal(rna.mod["rna"].obsm["X_minnet"],
                                  minnet.tl.embed(small_model, m.mod["rna"], "rna").obsm["X_minnet"])
    assert "X_minnet" not in rna.mod["atac"].obsm


def test_tl_embed_mudata_copy_false_writes_into_the_given_mudata(small_model, sim, sim_split):
    m = _query_mudata(sim, sim_split)
    atac = m.mod["atac"]
    want = minnet.tl.embed(small_model, atac, "atac")
    assert minnet.tl.embed(small_model, m, "atac", copy=False) is None
    assert m.mod["atac"] is atac
    np.testing.assert_array_equal(atac.obsm["X_minnet"], want.obsm["X_minnet"])
    assert atac.uns["minnet"]["X_minnet"] == want.uns["minnet"]["X_minnet"]
    assert "X_minnet" not in m.mod["rna"].obsm


def test_tl_embed_mudata_finds_the_modality_key(small_model, sim, sim_split):
    m = _query_mudata(sim, sim_split, other_key="peaks")
    out = minnet.tl.embed(small_model, m, "atac")  # falls back to "peaks"
    assert "X_minnet" in out.mod["peaks"].obsm
    out = minnet.tl.embed(small_model, m, "atac", mod_key="peaks", key_added="X_p")
    assert "X_p" in out.mod["peaks"].obsm
    with pytest.raises(MinNetInputError, match=r"^mod_key='atac' is not a modality of the MuData; "
                                               r"available modalities: \['rna', 'peaks'\]\. Set "
                                               r"mod_key to the key of the ATAC modality\.$"):
        minnet.tl.embed(small_model, m, "atac", mod_key="atac")
    with pytest.raises(MinNetInputError, match=r"^no ADT modality found in the MuData .*Set "
                                               r"mod_key"):
        minnet.tl.embed(small_model, m, "adt")


def test_tl_embed_mod_key_is_refused_with_an_anndata(small_model, sim, sim_split):
    q = sim.rna[~sim_split][:20].copy()
    with pytest.raises(MinNetInputError, match=r"^mod_key selects a modality of a MuData"):
        minnet.tl.embed(small_model, q, "rna", mod_key="rna")
    assert "X_minnet" not in q.obsm


def test_tl_embed_mudata_refusals_leave_it_untouched(small_model, sim, sim_split):
    m = _query_mudata(sim, sim_split, n=20)
    before = {k: (list(a.obsm), dict(a.uns)) for k, a in m.mod.items()}
    for kwds in ({"key_added": "a/b"}, {"mod_key": "nope"}):
        with pytest.raises(MinNetInputError):
            minnet.tl.embed(small_model, m, "atac", copy=False, **kwds)
    with pytest.raises(MinNetInputError, match="^model must be a MinNetModel"):
        minnet.tl.embed(42, m, "atac", copy=False)
    assert list(m.mod) == list(before)
    for k, a in m.mod.items():
        assert list(a.obsm) == before[k][0] and "minnet" not in a.uns


def test_tl_embed_mudata_result_reads_back_from_h5mu(small_model, sim, sim_split, tmp_path):
    import mudata

    out = minnet.tl.embed(small_model, _query_mudata(sim, sim_split, n=20), "atac")
    out.write_h5mu(tmp_path / "q.h5mu")
    back = mudata.read_h5mu(tmp_path / "q.h5mu")
    np.testing.assert_array_equal(back.mod["atac"].obsm["X_minnet"],
                                  out.mod["atac"].obsm["X_minnet"])
    assert back.mod["atac"].uns["minnet"]["X_minnet"]["model"] == small_model.fingerprint
