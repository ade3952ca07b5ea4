"""The R package (rpkg/, package ``minnet``) checked against the Python core.

* rpy2 (in this process): Seurat objects are built in R from Python matrices; the R
  package's conversion and result-storing functions are called and their output compared
  with the core's. reticulate is never used in this process (it aborts there on GC).
* Rscript (subprocess, reticulate): train in R, save, embed in R; the core embeds the same
  counts (read from disk) with the same model file and must agree within 1e-5.
* The Python quick-start (vignettes/python-quickstart.py) runs end to end.

The R tests skip only when R or the installed R package is missing; scripts/install.sh
installs both wherever R is present.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

import minnet
from minnet.genomics import parse_peak_names, read_annotation

ROOT = Path(__file__).resolve().parents[1]
RSCRIPT = shutil.which("Rscript")


def _r_package_missing() -> str | None:
    """Why the R tests cannot run here, or None when they can."""
    if RSCRIPT is None:
        return "R is not installed"
    res = subprocess.run(
        [RSCRIPT, "-e", "quit(status = !requireNamespace('minnet', quietly = TRUE))"],
        capture_output=True, text=True,
    )
    if res.returncode != 0:
        return "the R package minnet is not installed (run scripts/install.sh)"
    return None


@pytest.fixture(scope="module")
def r_package():
    why = _r_package_missing()
    if why:
        pytest.skip(why)


@pytest.fixture(scope="module")
def ro(r_package):
    """rpy2's robjects with SeuratObject and minnet loaded (never reticulate)."""
    robjects = pytest.importorskip("rpy2.robjects")
    robjects.r("suppressPackageStartupMessages({library(SeuratObject); library(minnet)})")
    return robjects


def _put(ro, name: str, value) -> None:
    """Assign a numpy array / scipy sparse matrix / DataFrame to R's global environment."""
    import anndata2ri
    from rpy2.robjects import numpy2ri, pandas2ri

    conv = ro.default_converter + numpy2ri.converter + pandas2ri.converter + anndata2ri.converter
    with conv.context():
        ro.globalenv[name] = value


def _get(ro, expr: str) -> np.ndarray:
    """Evaluate R code returning one atomic vector or matrix, as numpy."""
    from rpy2.robjects import numpy2ri

    with (ro.default_converter + numpy2ri.converter).context():
        return np.atleast_1d(np.asarray(ro.r(expr)))


def _seurat_from(ro, name: str, adata: anndata.AnnData, assay: str = "RNA",
                 obs: list[str] | None = None) -> None:
    """R object ``name`` <- a Seurat object with ``adata``'s counts (features x cells)."""
    _put(ro, "m_", sp.csc_matrix(adata.X.T, dtype=np.float64))
    _put(ro, "cells_", np.asarray(adata.obs_names, dtype=object).astype(str))
    _put(ro, "features_", np.asarray(adata.var_names, dtype=object).astype(str))
    ro.r(f"dimnames(m_) <- list(features_, cells_); {name} <- CreateSeuratObject(counts = m_, assay = '{assay}')")
    for col in obs or []:
        _put(ro, "col_", adata.obs[col].astype(str).to_numpy())
        ro.r(f"{name}${col} <- col_")


@pytest.fixture(scope="module")
def small_sim():
    return minnet.datasets.simulate_multiome(n_cells=120, n_cell_types=3, n_batches=2,
                                             n_genes=60, n_background_peaks=40, seed=11)


# --- rpy2: conversions ------------------------------------------------------------------
def test_pieces_rebuild_the_python_matrix(ro, small_sim):
    rna = small_sim.rna
    _seurat_from(ro, "obj", rna, obs=["cell_type", "batch"])
    ro.r("p <- CreateMinNetAnnDataPieces(obj, 'RNA')")
    indptr, indices, data = _get(ro, "p$indptr"), _get(ro, "p$indices"), _get(ro, "p$data")
    shape = tuple(int(v) for v in _get(ro, "p$shape"))
    x = sp.csr_matrix((data, indices, indptr), shape=shape)
    assert shape == rna.shape
    assert (x != rna.X).nnz == 0
    assert list(_get(ro, "p$obs_names")) == list(rna.obs_names)
    assert list(_get(ro, "p$var_names")) == list(rna.var_names)
    assert list(_get(ro, "as.character(p$obs$cell_type)")) == list(rna.obs["cell_type"].astype(str))
    assert str(_get(ro, "p$format")[0]) == "csr"


def test_seurat_lognormalize_matches_the_core(ro, small_sim):
    """slot = 'data' after Seurat's NormalizeData holds what the core computes from counts."""
    rna = small_sim.rna
    _seurat_from(ro, "obj", rna)
    ro.r("suppressWarnings(obj <- Seurat::NormalizeData(obj, verbose = FALSE)); "
         "p <- CreateMinNetAnnDataPieces(obj, 'RNA', slot = 'data')")
    x = sp.csr_matrix((_get(ro, "p$data"), _get(ro, "p$indices"), _get(ro, "p$indptr")),
                      shape=rna.shape)
    core = minnet.pp.log_normalize(rna.X)
    np.testing.assert_allclose(x.toarray(), core.toarray(), rtol=1e-5, atol=1e-5)


def test_peak_pieces_give_the_cores_gene_activity(ro, small_sim):
    atac = small_sim.atac
    _seurat_from(ro, "obj", atac, assay="peaks")
    ro.r("p <- CreateMinNetAnnDataPieces(obj, 'peaks')")
    x = sp.csr_matrix((_get(ro, "p$data"), _get(ro, "p$indices"), _get(ro, "p$indptr")),
                      shape=tuple(int(v) for v in _get(ro, "p$shape")))
    from_r = anndata.AnnData(X=x, obs=pd.DataFrame(index=list(_get(ro, "p$obs_names"))),
                             var=pd.DataFrame(index=list(_get(ro, "p$var_names"))))
    a = minnet.pp.gene_activity(from_r, small_sim.annotation)
    b = minnet.pp.gene_activity(atac, small_sim.annotation)
    assert list(a.var_names) == list(b.var_names)
    assert (a.X != b.X).nnz == 0


def test_dimreduc_holds_the_python_embedding(ro, small_model, sim):
    cells = sim.rna[:80]
    z = small_model.embed(cells, "rna")
    _put(ro, "z", z.astype(np.float64))
    _put(ro, "zc", np.asarray(cells.obs_names, dtype=str))
    ro.r("dr <- CreateMinNetDimReduc(z, assay = 'RNA', key = 'minnet_', cells = zc)")
    emb = _get(ro, "Embeddings(dr)")
    np.testing.assert_array_equal(emb, z.astype(np.float64))
    assert list(_get(ro, "rownames(Embeddings(dr))")) == list(cells.obs_names)
    assert list(_get(ro, "colnames(Embeddings(dr))")) == [f"minnet_{i}" for i in range(1, 33)]
    assert str(_get(ro, "Key(dr)")[0]) == "minnet_"
    # stored in a Seurat object, in the object's cell order, with the command logged
    _seurat_from(ro, "obj", cells)
    ro.r("rownames(z) <- zc; obj <- AddMinNetEmbedding(obj, z[rev(zc), ], assay = 'RNA')")
    np.testing.assert_array_equal(_get(ro, "Embeddings(obj, 'minnet')"), z.astype(np.float64))
    assert "AddMinNetEmbedding.RNA" in list(_get(ro, "names(obj@commands)"))


def test_predictions_are_stored_with_seurat_names(ro, small_model, sim):
    ref, query = sim.rna[:300], sim.atac[300:400]
    ref = minnet.tl.embed(small_model, ref, "rna", batch_key="batch")
    query = minnet.tl.embed(small_model, query, "atac")
    out = minnet.tl.transfer_labels(ref, query, "cell_type", n_neighbors=15)
    pred = out.obs["cell_type_pred"].astype(str).to_numpy()
    conf = out.obs["cell_type_confidence"].to_numpy(np.float64)
    _seurat_from(ro, "q", query)
    _put(ro, "lab", np.asarray(pred, dtype=str))
    _put(ro, "sc", np.asarray(conf, dtype=np.float64))
    ro.r("names(lab) <- names(sc) <- colnames(q); "
         "q <- AddMinNetPredictions(q, lab, sc, refdata = 'celltype')")
    assert list(_get(ro, "q$predicted.celltype")) == list(pred)
    np.testing.assert_array_equal(_get(ro, "q$predicted.celltype.score"), conf)
    assert "AddMinNetPredictions" in list(_get(ro, "names(q@commands)"))


def test_links_from_the_core_are_stored(ro, small_sim):
    rna, atac = small_sim.rna.copy(), small_sim.atac.copy()
    rng = np.random.default_rng(0)
    rna.obsm["X_minnet"] = rng.normal(size=(rna.n_obs, 4)).astype(np.float32)
    atac.obsm["X_minnet"] = rna.obsm["X_minnet"]
    rb, ab = minnet.tl.minibulk(rna, atac, n_bulks=12, groupby="cell_type", seed=0)
    links = minnet.tl.link_peaks(rb, ab, small_sim.annotation, n_background=20, progress=False)
    assert len(links) > 0
    _seurat_from(ro, "obj", atac, assay="peaks")
    _put(ro, "links", links.reset_index(drop=True))
    ro.r("obj <- AddMinNetLinks(obj, links, peak.assay = 'peaks'); got <- GetMinNetLinks(obj)")
    assert list(_get(ro, "colnames(got)")) == ["gene", "peak", "score", "zscore", "pvalue",
                                               "qvalue", "distance", "correlation"]
    assert list(_get(ro, "got$gene")) == list(links["gene"])
    assert list(_get(ro, "got$peak")) == list(links["peak"])
    for col in ("score", "zscore", "pvalue", "qvalue", "distance", "correlation"):
        np.testing.assert_array_equal(_get(ro, f"got${col}"), links[col].to_numpy(np.float64))
    assert "AddMinNetLinks" in list(_get(ro, "names(obj@commands)"))
    if bool(_get(ro, "isTRUE(requireNamespace('GenomicRanges', quietly = TRUE))")[0]):
        ro.r("gr <- BiocGenerics::as.data.frame(GetMinNetLinks(obj, granges = TRUE))")
        peaks = parse_peak_names(links["peak"])
        mid = ((peaks["start"] + peaks["end"]) // 2).to_numpy()
        tss = read_annotation(small_sim.annotation).set_index("gene_name").loc[links["gene"], "tss"]
        tss = tss.to_numpy()
        np.testing.assert_array_equal(_get(ro, "gr$start"), np.minimum(mid, tss))
        np.testing.assert_array_equal(_get(ro, "gr$end"), np.maximum(mid, tss))
        assert list(_get(ro, "as.character(gr$seqnames)")) == list(peaks["chrom"])


def test_granges_annotation_matches_the_cores_table(ro, small_sim):
    if not bool(_get(ro, "isTRUE(requireNamespace('GenomicRanges', quietly = TRUE))")[0]):
        pytest.skip("GenomicRanges not installed")
    ann = small_sim.annotation
    _put(ro, "ann", ann)
    ro.r("gr <- GenomicRanges::GRanges(ann$chrom, IRanges::IRanges(pmin(ann$tss, ann$end), "
         "pmax(ann$tss, ann$end)), strand = ann$strand, gene_name = ann$gene_name); "
         "conv <- CreateMinNetAnnotation(gr)")
    core = read_annotation(ann)
    assert list(_get(ro, "conv$gene_name")) == list(core["gene_name"])
    assert list(_get(ro, "conv$chrom")) == list(core["chrom"])
    assert list(_get(ro, "conv$strand")) == list(core["strand"])
    np.testing.assert_array_equal(_get(ro, "conv$tss"), core["tss"].to_numpy())
    np.testing.assert_array_equal(_get(ro, "conv$end"), core["end"].to_numpy())


# --- the R wrappers' defaults are the core's ---------------------------------------------
# Every R argument that mirrors an argument of the core is listed with the core's name
# (R's dotted names become snake case) and, where R spells a value its own way on purpose
# (documented in the R help), the translation of R's value. The core's defaults are read
# with inspect.signature at test time, so a default changed on one side only fails here.
_CELLTYPE = {"celltype": "cell_type"}          # R's metadata spelling of the core's column
_REDUCTION = {"minnet": "X_minnet"}            # Seurat's reduction name of the obsm key
_SLOT_NORMALIZED = {"counts": False, "data": True}


def _mirrors() -> dict:
    """R function -> (the core functions it mirrors, {R arg: spec}, R-only args).

    A spec is the Python name, or (Python name, R-value translation[, the one core function
    to compare with]).
    """
    from minnet.model import MinNetModel

    ds, tl = minnet.datasets, minnet.tl
    return {
        "TrainMinNet": ([minnet.train], {
            "modality": "modality", "label": ("label_key", _CELLTYPE), "batch": "batch_key",
            "annotation": "annotation", "slot": ("normalized", _SLOT_NORMALIZED),
            "epochs": "epochs", "seed": "seed", "verbose": "progress", "query": "query",
        }, {"object", "rna.assay", "other.assay", "other.object", "..."}),
        "RunMinNet": ([MinNetModel.embed], {
            "modality": "modality", "slot": ("normalized", _SLOT_NORMALIZED),
            "batch": "batch_key", "scaling": "scaling",
        }, {"object", "model", "assay", "reduction.name", "reduction.key", "verbose"}),
        "TransferMinNetLabels": ([tl.transfer_labels], {
            # the core's transfer_labels needs label_key; R defaults to the label train uses
            "refdata": ("label_key", _CELLTYPE, minnet.train),
            "reduction": ("use_rep", _REDUCTION), "k": "n_neighbors",
            "min.confidence": "min_confidence", "unassigned": "unassigned", "model": "model",
            "modality": "modality", "slot": ("layer", {"counts": None}),
            "head.weight": "head_weight", "check.model": "check_model",
        }, {"query", "reference", "assay"}),
        "SimulateMinNetData": ([ds.simulate_multiome, ds.simulate_citeseq], {
            "n.cells": "n_cells", "n.cell.types": "n_cell_types", "n.batches": "n_batches",
            "n.genes": "n_genes", "n.peaks.per.gene": "n_peaks_per_gene",
            "batch.effect": "batch_effect", "n.background.peaks": "n_background_peaks",
            "seed": "seed", "n.proteins": "n_proteins",
        }, {"modality"}),
        "LinkMinNetPeaks": ([tl.peak_gene_links, tl.link_peaks], {
            "reduction": ("use_rep", _REDUCTION), "annotation": "annotation",
            "distance": "distance", "n.bulks": "n_bulks",
            # the pipeline's groupby (link_peaks may have a groupby of its own for bulks)
            "group.by": ("groupby", _CELLTYPE, tl.peak_gene_links),
            "genes": "genes", "method": "method", "n.background": "n_background",
            "smooth": "smooth", "n.neighbors": "n_neighbors", "percentile": "percentile",
            "seed": "seed", "verbose": "progress", "distance.prior": "distance_prior",
        }, {"rna", "atac", "model", "peak.assay", "expression.assay", "atac.assay",
            "return.links", "check.model", "qvalue.cutoff", "pvalue.cutoff", "score.cutoff"}),
    }


_R_DEFAULTS = r"""
function(fn) {
  f <- formals(getExportedValue("minnet", fn))
  out <- lapply(names(f), function(n) {
    if (identical(f[[n]], quote(expr = ))) return(list(required = TRUE))
    # a default computed from other arguments (atac = rna) is kept as its expression
    v <- tryCatch(eval(f[[n]], baseenv()), error = function(e) paste("<R:", deparse(f[[n]]), ">"))
    # a vector of choices (match.arg style): the first one is the default
    if (is.character(v) && length(v) > 1L) v <- v[1]
    list(required = FALSE, value = v)
  })
  names(out) <- names(f)
  as.character(jsonlite::toJSON(out, auto_unbox = TRUE, null = "null", digits = NA))
}
"""


def _same_default(r_value, py_value) -> bool:
    if isinstance(r_value, bool) or isinstance(py_value, bool):
        return type(r_value) is type(py_value) and r_value == py_value
    if isinstance(r_value, int | float) and isinstance(py_value, int | float):
        return float(r_value) == float(py_value)
    return r_value == py_value


@pytest.mark.parametrize("r_function", ["TrainMinNet", "RunMinNet", "TransferMinNetLabels",
                                        "SimulateMinNetData", "LinkMinNetPeaks"])
def test_r_defaults_are_the_cores(ro, r_function):
    import inspect
    import json

    py_functions, spec, r_only = _mirrors()[r_function]
    r_formals = json.loads(str(ro.r(_R_DEFAULTS)(r_function)[0]))
    unlisted = set(r_formals) - set(spec) - r_only
    assert not unlisted, f"{r_function}: classify the new R argument(s) {sorted(unlisted)}"
    problems = []
    for r_arg, how in spec.items():
        py_arg, table, only = (how, None, None) if isinstance(how, str) else (*how, None)[:3]
        assert r_arg in r_formals, f"{r_function} has no argument {r_arg!r}"
        funcs = [only] if only is not None else py_functions
        pairs = [(f, inspect.signature(f).parameters[py_arg]) for f in funcs
                 if py_arg in inspect.signature(f).parameters]
        assert pairs, f"{r_function}({r_arg}): no core function has {py_arg!r} any more"
        r = r_formals[r_arg]
        for f, p in pairs:
            where = f"{r_function}({r_arg}) vs {f.__qualname__}({py_arg})"
            if r["required"] or p.default is inspect.Parameter.empty:
                if r["required"] != (p.default is inspect.Parameter.empty):
                    problems.append(f"{where}: required on one side only")
                continue
            value = r["value"]
            if table is not None and isinstance(value, str | bool | type(None)):
                value = table.get(value, value)
            if not _same_default(value, p.default):
                problems.append(f"{where}: R {r['value']!r} != Python {p.default!r}")
    assert not problems, "\n".join(problems)


def test_r_link_columns_are_the_cores(ro):
    """R orders the links table its own way (Signac's), but its columns are the core's."""
    from minnet.tl._links import LINK_COLUMNS

    r_columns = [*_get(ro, "minnet:::.link_columns"), *_get(ro, "minnet:::.link_optional_columns")]
    assert sorted(r_columns) == sorted(LINK_COLUMNS)


# --- Rscript + reticulate: train and embed in R, compare with the core ------------------
ROUND_TRIP_R = r"""
suppressPackageStartupMessages({library(SeuratObject); library(Matrix); library(minnet)})
args <- commandArgs(trailingOnly = TRUE)
d <- args[1]
read_assay <- function(stem) {
  m <- as(as(readMM(file.path(d, paste0(stem, ".mtx"))), "CsparseMatrix"), "generalMatrix")
  dimnames(m) <- list(readLines(file.path(d, paste0(stem, "_features.txt"))),
                      readLines(file.path(d, "cells.txt")))
  m
}
obs <- read.delim(file.path(d, "obs.tsv"), row.names = 1, stringsAsFactors = FALSE)
ann <- read.delim(file.path(d, "annotation.tsv"), stringsAsFactors = FALSE)
obj <- CreateSeuratObject(counts = read_assay("rna"), assay = "RNA", meta.data = obs)
obj[["peaks"]] <- CreateAssayObject(counts = read_assay("peaks"))
model <- TrainMinNet(obj, other.assay = "peaks", modality = "atac", label = "celltype",
                     batch = "batch", annotation = ann, epochs = 3, n_hidden = 32,
                     verbose = FALSE)
SaveMinNet(model, file.path(d, "model.minnet"))
rna <- RunMinNet(obj, model, assay = "RNA", modality = "rna", verbose = FALSE)
atac <- RunMinNet(obj, model, assay = "peaks", modality = "atac", verbose = FALSE)
write_emb <- function(e, f) {
  con <- file(file.path(d, f), "wb"); writeBin(as.vector(t(e)), con, size = 8); close(con)
}
write_emb(Embeddings(rna, "minnet"), "rna_emb.bin")
write_emb(Embeddings(atac, "minnet"), "atac_emb.bin")
writeLines(rownames(Embeddings(rna, "minnet")), file.path(d, "emb_cells.txt"))
atac <- TransferMinNetLabels(atac, rna, refdata = "celltype", k = 15)
writeLines(atac$predicted.celltype, file.path(d, "pred.txt"))
write_emb(matrix(atac$predicted.celltype.score, ncol = 1), "score.bin")
links <- LinkMinNetPeaks(rna, atac, annotation = ann, n.bulks = 20, n.background = 30,
                         group.by = c("celltype", "predicted.celltype"), return.links = TRUE,
                         verbose = FALSE)
writeLines(paste(links$gene, links$peak), file.path(d, "links_pairs.txt"))
write_emb(as.matrix(links[, c("score", "zscore", "pvalue", "qvalue", "distance")]), "links.bin")
cat("ROUND TRIP OK", ncol(Embeddings(rna, "minnet")), "\n")
"""


def _venv_python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def test_reticulate_round_trip_matches_the_core(r_package, tmp_path):
    """Train, embed, transfer labels and link peaks in R; the core redoes it from the file."""
    sim = minnet.datasets.simulate_multiome(n_cells=240, n_cell_types=3, n_batches=2,
                                            n_genes=120, n_background_peaks=60, seed=5)
    rna, atac = sim.rna.copy(), sim.atac.copy()
    rna.obs = rna.obs[["cell_type", "batch"]].astype(str)
    atac.obs = rna.obs.copy()
    rna.write_h5ad(tmp_path / "rna.h5ad")
    atac.write_h5ad(tmp_path / "atac.h5ad")
    sim.annotation.to_csv(tmp_path / "annotation.tsv", sep="\t", index=False)
    # the same counts for R, as Matrix Market (features x cells) + names
    rna_disk = anndata.read_h5ad(tmp_path / "rna.h5ad")
    atac_disk = anndata.read_h5ad(tmp_path / "atac.h5ad")
    for stem, ad in (("rna", rna_disk), ("peaks", atac_disk)):
        scipy.io.mmwrite(str(tmp_path / f"{stem}.mtx"), sp.coo_matrix(ad.X.T), precision=10)
        (tmp_path / f"{stem}_features.txt").write_text("\n".join(ad.var_names) + "\n")
    (tmp_path / "cells.txt").write_text("\n".join(rna_disk.obs_names) + "\n")
    obs = rna_disk.obs.rename(columns={"cell_type": "celltype"})
    obs.to_csv(tmp_path / "obs.tsv", sep="\t")
    script = tmp_path / "round_trip.R"
    script.write_text(ROUND_TRIP_R)

    env = {**os.environ, "RETICULATE_PYTHON": _venv_python(), "MINNET_PYTHON": ""}
    res = subprocess.run([RSCRIPT, "--vanilla", str(script), str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "ROUND TRIP OK 32" in res.stdout

    model = minnet.load(tmp_path / "model.minnet")
    assert model.modalities == ("rna", "atac")
    assert model.annotation is not None
    cells = (tmp_path / "emb_cells.txt").read_text().split()
    assert cells == list(rna_disk.obs_names)
    z_rna = model.embed(rna_disk, "rna")
    z_atac = model.embed(atac_disk, "atac")
    r_rna = np.fromfile(tmp_path / "rna_emb.bin", dtype="<f8").reshape(z_rna.shape)
    r_atac = np.fromfile(tmp_path / "atac_emb.bin", dtype="<f8").reshape(z_atac.shape)
    np.testing.assert_allclose(r_rna, z_rna, atol=1e-5, rtol=0)
    np.testing.assert_allclose(r_atac, z_atac, atol=1e-5, rtol=0)
    assert np.abs(z_rna).max() > 0.1  # not a degenerate embedding

    # label transfer and links on the core's own embeddings agree with R's
    ref = minnet.tl.embed(model, rna_disk, "rna")
    query = minnet.tl.embed(model, atac_disk, "atac")
    query.obs = query.obs.drop(columns="cell_type")  # unlabelled, as ATAC data would be
    query = minnet.tl.transfer_labels(ref, query, "cell_type", n_neighbors=15)
    pred = (tmp_path / "pred.txt").read_text().split()
    assert pred == list(query.obs["cell_type_pred"].astype(str))
    np.testing.assert_allclose(np.fromfile(tmp_path / "score.bin", dtype="<f8"),
                               query.obs["cell_type_confidence"], atol=1e-5, rtol=0)
    links = minnet.tl.peak_gene_links(ref, query, sim.annotation, groupby="cell_type",
                                      n_bulks=20, n_background=30, progress=False)
    assert len(links) > 50
    pairs = (tmp_path / "links_pairs.txt").read_text().splitlines()
    assert pairs == [f"{g} {p}" for g, p in zip(links["gene"], links["peak"], strict=True)]
    cols = ["score", "zscore", "pvalue", "qvalue", "distance"]
    r_links = np.fromfile(tmp_path / "links.bin", dtype="<f8").reshape(len(links), len(cols))
    np.testing.assert_allclose(r_links, links[cols].to_numpy(np.float64), atol=1e-6, rtol=1e-6)


# --- the Python quick-start -------------------------------------------------------------
def test_python_quickstart_runs(tmp_path):
    script = ROOT / "vignettes" / "python-quickstart.py"
    res = subprocess.run(
        [sys.executable, str(script), "--n-cells", "500", "--epochs", "8", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert res.returncode == 0, textwrap.shorten(res.stdout + res.stderr, 4000)
    assert "label transfer accuracy" in res.stdout
    assert (tmp_path / "model.minnet").exists()
    assert (tmp_path / "links.tsv").exists()
    links = pd.read_csv(tmp_path / "links.tsv", sep="\t")
    assert {"gene", "peak", "score", "zscore", "pvalue", "qvalue", "distance"} <= set(links.columns)
