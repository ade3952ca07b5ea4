"""minnet.validation: each check refuses what it should with a message naming the fix, accepts
what it should; the old import paths still work; every public function has a return annotation."""

from __future__ import annotations

import importlib
import inspect
import math
import warnings
from typing import get_args

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from minnet import MinNetInputError
from minnet import validation as v

# --------------------------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("good", [0, 3, np.int64(7), np.uint8(2)])
def test_check_int_accepts_integers(good):
    out = v.check_int(good, "n", 0)
    assert out == int(good) and type(out) is int


@pytest.mark.parametrize("bad", [-1, 1.0, 2.5, "3", None, True, np.float64(4.0)])
def test_check_int_refuses_non_integers_and_small_values(bad):
    with pytest.raises(MinNetInputError, match=r"^n must be a non-negative integer, got "):
        v.check_int(bad, "n", 0)


def test_check_int_minimum_named_in_message():
    with pytest.raises(MinNetInputError, match=r"k must be an integer >= 2, got 1\."):
        v.check_int(1, "k", 2)


def test_check_int_allow_float_takes_whole_floats_only():
    assert v.check_int(2000.0, "upstream", 0, allow_float=True) == 2000
    assert type(v.check_int(np.float32(5), "d", 0, allow_float=True)) is int
    for bad in (1.5, math.nan, math.inf, -2.0, True):
        with pytest.raises(MinNetInputError, match="must be a non-negative integer"):
            v.check_int(bad, "d", 0, allow_float=True)


def test_check_seed():
    assert v.check_seed(np.int32(4)) == 4
    for bad in (-1, "zero", 1.0, None, False):
        with pytest.raises(MinNetInputError, match="seed must be a non-negative integer"):
            v.check_seed(bad)


def test_check_number_interval_and_description():
    assert v.check_number(np.float32(0.5), "x", 0, 1) == 0.5
    assert v.check_number(0, "x", 0, 1) == 0.0
    with pytest.raises(MinNetInputError, match=r"x must be a finite number in \(0, 1\]"):
        v.check_number(0, "x", 0, 1, low_open=True)
    with pytest.raises(MinNetInputError, match=r"x must be a finite number in \[0, inf\]"):
        v.check_number(-1e-9, "x", 0)
    for bad in (math.nan, math.inf, "1", None, True):
        with pytest.raises(MinNetInputError, match="decay must be a positive number of bp"):
            v.check_number(bad, "decay", 0, low_open=True, description="a positive number of bp")


# --------------------------------------------------------------------------------------------
# Fixed choices
# --------------------------------------------------------------------------------------------


def test_choice_tuples_follow_the_literal_types():
    assert v.MODALITIES == get_args(v.Modality) == ("rna", "atac", "adt")
    assert v.NEGATIVE_MODES == get_args(v.Negatives) == ("between", "within", "both")


def test_check_choice_accepts_and_lists_choices():
    assert v.check_choice("b", "mode", ("a", "b")) == "b"
    assert v.check_choice("B", "mode", ("a", "b"), ignore_case=True) == "b"
    with pytest.raises(MinNetInputError, match=r"^mode must be 'a', 'b' or 'c', got 'd'\.$"):
        v.check_choice("d", "mode", ("a", "b", "c"))
    with pytest.raises(MinNetInputError, match=r"mode must be 'a' or 'b', got 'B'"):
        v.check_choice("B", "mode", ("a", "b"))  # case matters unless ignore_case
    with pytest.raises(MinNetInputError, match=r"got 1\. Use a letter\.$"):
        v.check_choice(1, "mode", ("a", "b"), ignore_case=True, hint="Use a letter.")


def test_check_modality():
    assert v.check_modality("ATAC") == "atac"
    for bad in ("protein", None, 3):
        with pytest.raises(MinNetInputError, match="modality must be 'rna', 'atac' or 'adt'.*"
                                                   "'adt' means CITE-seq proteins"):
            v.check_modality(bad)


def test_check_negatives():
    for mode in v.NEGATIVE_MODES:
        assert v.check_negatives(mode) == mode
    with pytest.raises(MinNetInputError, match="negatives must be 'between', 'within' or 'both'"):
        v.check_negatives("random")


@pytest.mark.parametrize("good", ["X_minnet", "X minnet (v2)", "..", "é"])
def test_check_key_accepts_keys_that_read_back(good, tmp_path):
    assert v.check_key(good, "key_added") == good
    a = ad.AnnData(np.zeros((2, 1)))
    a.obsm[good] = np.ones((2, 2))
    a.write_h5ad(tmp_path / "k.h5ad")
    assert good in ad.read_h5ad(tmp_path / "k.h5ad").obsm


@pytest.mark.parametrize("bad", ["X/evil/../../x", "/X", "X/", "", ".", "a\0b", None, 3, b"X"])
def test_check_key_refuses_keys_h5ad_cannot_store(bad):
    with pytest.raises(MinNetInputError, match=r"^--key-added must be a non-empty string without "
                                               r"'/' .* could not be read back; got .* Use e\.g\. "
                                               r"'X_minnet'\.$"):
        v.check_key(bad, "--key-added")


# --------------------------------------------------------------------------------------------
# Matrices
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sparse", [False, True])
def test_check_finite(sparse):
    x = np.array([[1.0, -2.0], [np.nan, np.inf]])
    wrap = sp.csr_matrix if sparse else np.asarray
    with pytest.raises(MinNetInputError, match=r"m contains 2 NaN or infinite value\(s\); drop"):
        v.check_finite(wrap(x), "m", "drop them")
    v.check_finite(wrap(x[:1]), "m")  # negatives are fine
    v.check_finite(wrap(np.array([[1, 2]], dtype=np.int64)), "m")
    with pytest.raises(MinNetInputError, match="must hold real numbers, got dtype complex"):
        v.check_finite(np.array([[1j]]), "m")
    with pytest.raises(MinNetInputError, match="must hold real numbers, got dtype object"):
        v.check_finite(np.array([["a"]], dtype=object), "m")


@pytest.mark.parametrize("sparse", [False, True])
def test_check_counts(sparse):
    wrap = sp.csr_matrix if sparse else np.asarray
    v.check_counts(wrap(np.array([[0, 3], [1, 0]], dtype=np.float32)), "X")
    v.check_counts(wrap(np.array([[True, False]])), "X")  # binarised counts
    v.check_counts(np.zeros((0, 3)), "X")
    with pytest.raises(MinNetInputError, match="X contains negative values but raw counts were "
                                               "expected; pass raw counts .*normalized=True"):
        v.check_counts(wrap(np.array([[1.0, -1.0]])), "X")
    with pytest.raises(MinNetInputError, match="contains 1 NaN.*remove or impute"):
        v.check_counts(wrap(np.array([[1.0, np.nan]])), "X")
    with pytest.raises(MinNetInputError, match="but peak counts were expected; use layer="):
        v.check_counts(np.array([[-1]]), "X", expected="peak counts", fix="use layer=")


def test_check_finite_nonnegative_keeps_both_modes():
    neg = np.array([[1.0, -1.0]])
    v.check_finite_nonnegative(neg, "X", allow_negative=True)
    with pytest.raises(MinNetInputError, match="negative"):
        v.check_finite_nonnegative(neg, "X")
    with pytest.raises(MinNetInputError, match="NaN"):
        v.check_finite_nonnegative(np.array([[np.nan]]), "X", allow_negative=True)


# --------------------------------------------------------------------------------------------
# AnnData and tables
# --------------------------------------------------------------------------------------------


def _adata(obs_names=("c1", "c2"), var_names=("g1", "g2")) -> ad.AnnData:
    return ad.AnnData(
        X=np.ones((len(obs_names), len(var_names)), dtype=np.float32),
        obs=pd.DataFrame({"kind": ["a", None]}, index=list(obs_names)),
        var=pd.DataFrame(index=list(var_names)),
    )


def test_check_is_anndata_and_check_anndata():
    a = _adata()
    assert v.check_is_anndata(a, "rna") is a and v.check_anndata(a, "rna") is a
    for check in (v.check_is_anndata, v.check_anndata):
        with pytest.raises(MinNetInputError, match="rna must be an AnnData object, got DataFrame.*"
                                                   "anndata.read_h5ad"):
            check(pd.DataFrame(), "rna")
    with pytest.raises(MinNetInputError, match=r"rna is empty \(2 cells × 0 features\)"):
        v.check_anndata(a[:, []], "rna")
    with warnings.catch_warnings():  # anndata warns about the duplicated names it holds
        warnings.simplefilter("ignore")
        dup_cells = _adata(obs_names=("c1", "c1"))
        dup_genes = _adata(var_names=("g1", "g1"))
    with pytest.raises(MinNetInputError, match="duplicated cell names.*obs_names_make_unique"):
        v.check_anndata(dup_cells, "rna")
    with pytest.raises(MinNetInputError, match="duplicated feature names.*var_names_make_unique"):
        v.check_anndata(dup_genes, "rna")


def test_check_unique_names():
    v.check_unique_names(["a", "b"], "x")
    with pytest.raises(MinNetInputError, match=r"x has 2 duplicated feature names \(e.g. \['a'\]\)"):
        v.check_unique_names(["a", "a", "a", "b"], "x")


def test_obs_column():
    a = _adata()
    a.obs["batch"] = [1, 2]
    assert v.obs_column(a, "batch", "rna", "batch").tolist() == ["1", "2"]
    with pytest.raises(MinNetInputError, match=r"label column 'type' is not in rna.obs; "
                                               r"available columns: \['kind', 'batch'\]"):
        v.obs_column(a, "type", "rna", "label")
    with pytest.raises(MinNetInputError, match=r"rna.obs\['kind'\] has 1 missing values; fill or"):
        v.obs_column(a, "kind", "rna", "label")


@pytest.mark.parametrize("missing", ["nan", "NaN", "None", "", " ", "<NA>", "NA", "null"])
def test_check_no_missing_strings_refuses_what_means_missing(missing):
    values = np.array(["T", "B", missing, missing], dtype=object)
    with pytest.raises(MinNetInputError, match=r"rna.obs\['type'\] has 2 cell\(s\) whose label "
                                               r"means missing") as exc:
        v.check_no_missing_strings(values, "rna", "type", "label")
    assert f"{missing!r}: 2" in str(exc.value) and "Drop the cells whose label" in str(exc.value)
    v.check_no_missing_strings(np.array(["T", "NK", "nan-like", "NaN cells"]), "rna", "t", "label")


def test_check_group_sizes_names_the_small_groups():
    v.check_group_sizes(np.array(["a", "a", "b", "b"]), "rna", "batch", "batch")
    with pytest.raises(MinNetInputError, match=r"rna.obs\['batch'\] has 1 batch group\(s\) with "
                                               r"fewer than 2 cells: 'b' \(1 cell\)") as exc:
        v.check_group_sizes(np.array(["a", "a", "b"]), "rna", "batch", "batch")
    assert "Merge it into another batch, or drop those cells." in str(exc.value)


def test_check_columns():
    df = pd.DataFrame(columns=["a", "b"])
    v.check_columns(df, ["b", "a"], "t")
    with pytest.raises(MinNetInputError, match=r"^t is missing column\(s\) \['c'\]; it has columns "
                                               r"\['a', 'b'\]\.$"):
        v.check_columns(df, ["a", "c"], "t")
    with pytest.raises(MinNetInputError, match=r"missing required column\(s\) .*\. Rename them\.$"):
        v.check_columns(df, ["c"], "t", qualifier="required", hint="Rename them.")


# --------------------------------------------------------------------------------------------
# The checks that used to be re-invented now come from here
# --------------------------------------------------------------------------------------------


def test_public_functions_use_the_shared_checks():
    from minnet.datasets import simulate_citeseq, simulate_multiome
    from minnet.genomics import gene_windows, parse_peak_names, peaks_near_genes
    from minnet.pairs import sample_pairs

    with pytest.raises(MinNetInputError, match="seed must be a non-negative integer"):
        simulate_multiome(n_cells=10, n_genes=20, seed=-1)
    with pytest.raises(MinNetInputError, match="n_proteins must be an integer >= 1"):
        simulate_citeseq(n_cells=10, n_genes=20, n_proteins=0)
    with pytest.raises(MinNetInputError, match="batch_effect must be a non-negative number"):
        simulate_citeseq(n_cells=10, n_genes=20, n_proteins=2, batch_effect=-1)
    peaks = parse_peak_names(["chr1-100-200"])
    ann = pd.DataFrame({"gene_name": ["A"], "chrom": ["chr1"], "tss": [150], "strand": ["+"]})
    with pytest.raises(MinNetInputError, match="distance must be a non-negative integer"):
        peaks_near_genes(peaks, ann, 2.5)
    assert peaks_near_genes(peaks, ann, 10.0)["peak"].tolist() == ["chr1-100-200"]
    with pytest.raises(MinNetInputError, match="upstream must be a non-negative integer"):
        gene_windows(ann, upstream=-1)
    rng = np.random.default_rng(0)
    with pytest.raises(MinNetInputError, match=r"positive_fraction must be a finite number in "
                                               r"\[0, 1\]"):
        sample_pairs(np.arange(4), rng, positive_fraction=1.5)
    with pytest.raises(MinNetInputError, match="negatives must be 'between', 'within' or 'both'"):
        sample_pairs(np.arange(4), rng, negatives="all")


# --------------------------------------------------------------------------------------------
# Return annotations on the whole public API
# --------------------------------------------------------------------------------------------

PUBLIC_MODULES = (
    "minnet", "minnet.pp", "minnet.tl", "minnet.pl", "minnet.metrics", "minnet.datasets",
    "minnet.genomics", "minnet.validation",
)


def _own_methods(cls: type) -> list[tuple[str, object]]:
    """Public methods, class/static methods and property getters defined in MinNet classes."""
    out = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("minnet"):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            elif isinstance(member, property):
                member = member.fget
            if inspect.isfunction(member):
                out.append((f"{cls.__name__}.{name}", member))
    return out


def _public_api() -> dict[str, object]:
    """Every public function and method reachable from the package's public modules."""
    found: dict[str, object] = {}
    for modname in PUBLIC_MODULES:
        mod = importlib.import_module(modname)
        names = getattr(mod, "__all__", [n for n in vars(mod) if not n.startswith("_")])
        for name in names:
            obj = getattr(mod, name)
            if inspect.isclass(obj) and obj.__module__.startswith("minnet"):
                for qual, meth in _own_methods(obj):
                    found.setdefault(f"{modname}.{qual}", meth)
            elif inspect.isfunction(obj) and obj.__module__.startswith("minnet"):
                found.setdefault(f"{modname}.{name}", obj)
    return found


def test_public_api_walk_finds_the_main_entry_points():
    api = _public_api()
    for name in ("minnet.train", "minnet.MinNetModel.embed", "minnet.pp.gene_activity",
                 "minnet.datasets.simulate_multiome", "minnet.validation.check_int"):
        assert name in api
    assert len(api) > 50


def test_every_public_function_has_a_return_annotation():
    missing = sorted(name for name, f in _public_api().items()
                     if inspect.signature(f).return_annotation is inspect.Signature.empty)
    assert not missing, f"public functions without a return annotation: {missing}"


def test_check_same_obs_gives_positions_or_names_the_strays():
    a = ad.AnnData(np.zeros((3, 1)))
    a.obs_names = ["c1", "c2", "c3"]
    b = a[::-1].copy()
    np.testing.assert_array_equal(v.check_same_obs(a, b, ("x", "y"), "cells", "Fix it."),
                                  [2, 1, 0])
    c = a[:2].copy()
    with pytest.raises(MinNetInputError, match=r"x and y must hold the same cells.*1 only in x "
                                               r"\(e.g. \['c3'\]\), 0 only in y.*Fix it\."):
        v.check_same_obs(a, c, ("x", "y"), "cells", "Fix it.")
