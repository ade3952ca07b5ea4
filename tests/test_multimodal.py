"""minnet.multimodal: RNA and the other modality out of a MuData, cells paired by name."""

from __future__ import annotations

import logging

import anndata as ad
import mudata
import numpy as np
import pytest

import minnet
from minnet import MinNetInputError
from minnet.multimodal import (
    is_mudata,
    modality_of,
    resolve_mod_key,
    split_mudata,
)


@pytest.fixture(scope="module")
def small():
    return minnet.datasets.simulate_multiome(n_cells=90, n_cell_types=3, n_batches=2,
                                             n_genes=80, seed=3)


def _mdata(**mods: ad.AnnData) -> mudata.MuData:
    return mudata.MuData(dict(mods))


def _snapshot(mdata: mudata.MuData) -> dict:
    """Everything split_mudata / tl.embed could touch in the caller's MuData."""
    return {
        "mods": list(mdata.mod),
        "obs_names": list(mdata.obs_names),
        **{f"{k}.obs_names": list(m.obs_names) for k, m in mdata.mod.items()},
        **{f"{k}.X": m.X.toarray().copy() for k, m in mdata.mod.items()},
        **{f"{k}.obsm": sorted(m.obsm) for k, m in mdata.mod.items()},
        **{f"{k}.uns": sorted(m.uns) for k, m in mdata.mod.items()},
        **{f"{k}.is_view": m.is_view for k, m in mdata.mod.items()},
    }


def _assert_same(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value, err_msg=key)
        else:
            assert after[key] == value, key


def test_is_mudata(small):
    m = _mdata(rna=small.rna, atac=small.atac)
    assert is_mudata(m) and is_mudata(m[:10])
    for other in (small.rna, None, {"rna": small.rna}, "mudata"):
        assert not is_mudata(other)


def test_split_paired_mudata_returns_its_own_modalities(small):
    m = _mdata(rna=small.rna, atac=small.atac)
    rna, atac = split_mudata(m, "atac")
    assert rna is m.mod["rna"] and atac is m.mod["atac"]  # nothing copied
    assert list(rna.obs_names) == list(atac.obs_names) == list(small.rna.obs_names)


@pytest.mark.parametrize(("modality", "key"), [("atac", "atac"), ("atac", "peaks"),
                                               ("atac", "chromatin"), ("adt", "adt"),
                                               ("adt", "prot"), ("adt", "protein")])
def test_split_finds_the_other_modality_under_its_usual_names(small, modality, key):
    m = _mdata(rna=small.rna, **{key: small.atac})
    rna, other = split_mudata(m, modality)
    assert other is m.mod[key] and rna is m.mod["rna"]


def test_split_prefers_the_modality_name_then_the_given_key(small):
    alt = small.atac[:, :50].copy()
    alt.var_names = [f"alt{i}" for i in range(50)]
    m = _mdata(rna=small.rna, peaks=alt, atac=small.atac)
    assert split_mudata(m, "atac")[1] is m.mod["atac"]
    assert split_mudata(m, "atac", other_key="peaks")[1] is m.mod["peaks"]
    assert resolve_mod_key(m, "atac") == "atac"
    assert resolve_mod_key(m, "rna") == "rna"


def test_split_with_custom_keys(small):
    m = _mdata(gex=small.rna, ATAC_peaks=small.atac)
    rna, atac = split_mudata(m, "atac", rna_key="gex", other_key="ATAC_peaks")
    assert rna is m.mod["gex"] and atac is m.mod["ATAC_peaks"]


def test_split_names_the_available_modalities_and_the_argument_to_set(small):
    m = _mdata(gex=small.rna, peaks=small.atac)
    with pytest.raises(MinNetInputError, match=r"^rna_key='rna' is not a modality of the MuData; "
                                               r"available modalities: \['gex', 'peaks'\]\. "
                                               r"Set rna_key to the key of the RNA modality\.$"):
        split_mudata(m, "atac")
    with pytest.raises(MinNetInputError, match=r"^no ADT modality found in the MuData \(tried "
                                               r"'adt', 'prot', 'protein'\); available modalities"
                                               r": \['gex', 'peaks'\]\. Set other_key to the key "
                                               r"of the ADT modality\.$"):
        split_mudata(m, "adt", rna_key="gex")
    with pytest.raises(MinNetInputError, match=r"^other_key='atac' is not a modality.*"
                                               r"\['gex', 'peaks'\]\. Set other_key"):
        split_mudata(m, "atac", rna_key="gex", other_key="atac")


@pytest.mark.parametrize("bad", ["rna", "protein", None])
def test_split_refuses_a_modality_other_than_atac_or_adt(small, bad):
    m = _mdata(rna=small.rna, atac=small.atac)
    with pytest.raises(MinNetInputError, match=r"^modality must be 'atac' or 'adt'"):
        split_mudata(m, bad)


def test_split_refuses_what_is_not_a_mudata(small):
    with pytest.raises(MinNetInputError, match=r"^mdata must be a MuData object, got AnnData\."):
        split_mudata(small.rna, "atac")


def test_split_pairs_cells_by_name_in_the_rna_order(small, caplog):
    rna_in = small.rna[5:].copy()  # cells 0-4 only in ATAC
    atac_in = small.atac[::-1][3:].copy()  # reversed; the last 3 cells only in RNA
    m = _mdata(rna=rna_in, atac=atac_in)
    before = _snapshot(m)
    with caplog.at_level(logging.INFO, logger="minnet"):
        rna, atac = split_mudata(m, "atac")
    shared = list(small.rna.obs_names[5:-3])
    assert list(rna.obs_names) == list(atac.obs_names) == shared
    np.testing.assert_array_equal(rna.X.toarray(), small.rna[shared].X.toarray())
    np.testing.assert_array_equal(atac.X.toarray(), small.atac[shared].X.toarray())
    assert atac.obs["cell_type"].tolist() == small.atac[shared].obs["cell_type"].tolist()
    assert "82 cells in both RNA and ATAC; dropped 3 RNA-only and 5 ATAC-only cells" in caplog.text
    _assert_same(before, _snapshot(m))


def test_split_keeps_the_rna_object_when_only_the_other_modality_differs(small):
    m = _mdata(rna=small.rna[:40].copy(), atac=small.atac[::-1].copy())
    rna, atac = split_mudata(m, "atac")
    assert rna is m.mod["rna"]
    assert list(atac.obs_names) == list(rna.obs_names)


def test_split_refuses_modalities_without_shared_cells(small):
    atac = small.atac[:10].copy()
    atac.obs_names = [f"other{i}" for i in range(10)]
    m = _mdata(rna=small.rna[:10].copy(), atac=atac)
    with pytest.raises(MinNetInputError, match=r"^the RNA and ATAC modalities share no cells "
                                               r"\(obs_names\), e\.g\. RNA \['cell00000'"):
        split_mudata(m, "atac")


def test_split_refuses_duplicated_names_it_would_have_to_match(small):
    rna = small.rna[:10].copy()
    rna.obs_names = ["c0", "c0"] + [f"c{i}" for i in range(2, 10)]
    atac = small.atac[:10].copy()
    atac.obs_names = [f"c{i}" for i in range(10)][::-1]
    with pytest.warns(UserWarning):  # mudata itself warns about the duplicates
        m = _mdata(rna=rna, atac=atac)
    with pytest.raises(MinNetInputError, match=r"^the RNA modality has duplicated obs_names"):
        split_mudata(m, "atac")


def test_split_results_can_be_modified_without_touching_the_mudata(small):
    m = _mdata(rna=small.rna[2:].copy(), atac=small.atac[::-1].copy())
    before = _snapshot(m)
    rna, atac = split_mudata(m, "atac")
    assert atac.is_view
    with pytest.warns(ad.ImplicitModificationWarning):
        atac.obsm["new"] = np.zeros((atac.n_obs, 2))  # copy-on-write
    _assert_same(before, _snapshot(m))


def test_training_on_a_split_mudata_leaves_it_unchanged(small):
    m = _mdata(rna=small.rna, atac=small.atac[::-1].copy())
    before = _snapshot(m)
    rna, atac = split_mudata(m, "atac")
    model = minnet.train(rna, atac, "atac", label_key="cell_type", batch_key="batch",
                         annotation=small.annotation, epochs=2, progress=False, seed=0,
                         n_top_features=60)
    assert isinstance(model, minnet.MinNetModel)
    _assert_same(before, _snapshot(m))


def test_modality_of(small):
    m = _mdata(rna=small.rna, peaks=small.atac)
    assert modality_of(m, "peaks") is m.mod["peaks"]
    with pytest.raises(MinNetInputError, match=r"^the MuData has no modality 'atac'; available "
                                               r"modalities: \['rna', 'peaks'\]\.$"):
        modality_of(m, "atac")
    with pytest.raises(MinNetInputError, match=r"^mdata must be a MuData object"):
        modality_of(small.rna, "rna")
