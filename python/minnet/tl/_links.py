"""``tl.link_peaks``: peak-gene links from correlation across mini-bulks, with a matched null.

For every gene and every peak whose midpoint lies within ``distance`` bp of its TSS, the
correlation of the gene's expression with the peak's accessibility across mini-bulks is
compared with the correlations of the same gene with background peaks from *other*
chromosomes that have similar mean accessibility (as Signac's ``LinkPeaks``). Everything is
vectorised: feature matrices are standardised once, pair scores are row-wise dot products over
gathered rows (in chunks), and background correlations come from one matrix product per
accessibility bin (the bin's genes x the bin's peaks, in row chunks) from which each gene's
sampled background is read, so no genes x peaks matrix is ever formed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData
from scipy.stats import norm, rankdata
from tqdm.auto import tqdm

from .._utils import MinNetInputError, get_matrix, in_memory, logger
from ..genomics import parse_peak_names, peaks_near_genes, read_annotation
from ..validation import check_int, check_same_obs
from ._link_prior import bayes_fdr, fit_two_groups

__all__ = ["link_peaks", "link_peaks_by_group"]

LINK_COLUMNS = ["gene", "peak", "distance", "score", "zscore", "pvalue", "qvalue", "correlation"]
METHODS = ("empirical_bayes", "spearman", "pearson", "robust", "within")
#: Methods whose score is a correlation within groups of bulks (residuals on group means).
WITHIN_METHODS = ("within",)
#: Methods with a robust background (median / MAD) and one-sided p-values for positive links.
ROBUST_METHODS = ("empirical_bayes", "robust", "within")
#: The statistic each method scores pairs with before the background (``_standardized``).
_BASE_STATISTIC = {"empirical_bayes": "spearman", "robust": "spearman", "within": "pearson"}
_MAD_TO_SD = 1.4826  # MAD of a normal distribution x this = its standard deviation

_MAX_BINS = 50  # accessibility bins of the background (quantiles of mean log-CPM)
_CHUNK_ELEMENTS = 1 << 23  # floats gathered at once (64 MiB in float64, 32 MiB in float32)
_CPM = 1e6


# --------------------------------------------------------------------------------------------
# Feature matrices
# --------------------------------------------------------------------------------------------
def _bulk_counts(adata: AnnData, layer: str | None, what: str) -> np.ndarray | sp.csc_matrix:
    """Bulk x feature counts, checked (finite, non-negative); CSC if sparse."""
    x = in_memory(get_matrix(adata, layer))
    src = f"{what} ({'.X' if layer is None else f'layers[{layer!r}]'})"
    data = x.data if sp.issparse(x) else np.asarray(x)
    if data.size and not np.issubdtype(data.dtype, np.number):
        raise MinNetInputError(f"{src} must hold numbers, got dtype {data.dtype}.")
    if data.size and not np.all(np.isfinite(data)):
        raise MinNetInputError(f"{src} contains NaN or infinite values.")
    if data.size and data.min() < 0:
        raise MinNetInputError(
            f"{src} contains negative values; link_peaks expects summed counts per mini-bulk "
            "(e.g. from minnet.tl._minibulk.minibulk), which it normalises itself (log CPM)."
        )
    return sp.csc_matrix(x, dtype=np.float64) if sp.issparse(x) else np.asarray(x, np.float64)


def _group_centred(block: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``block`` (bulks x features) minus the mean of each bulk's group, in place."""
    sizes = np.bincount(groups).astype(np.float64)
    n = groups.size
    indicator = sp.csr_matrix((np.ones(n), (groups, np.arange(n))), shape=(sizes.size, n))
    sums = np.asarray(indicator @ block)
    block -= (sums / np.maximum(sizes, 1.0)[:, None])[groups]
    return block


def _standardized(
    counts: np.ndarray | sp.csc_matrix, method: str, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features x bulks matrix with zero-mean, unit-norm rows (so correlation = dot product).

    Counts are normalised per bulk to log CPM, ``log1p(1e6 * count / total)``; Spearman ranks
    them per feature (average ranks for ties) before centring; with ``groups`` (integer code
    of every bulk's group, ``method="within"``) each bulk is centred on its group's mean
    instead of the overall mean, so dot products are correlations *within* groups (partial
    correlations given the group). Columns are processed in chunks.

    Returns
    -------
    ``(z, mean_log_cpm, n_detected, ok)``: ``z`` float64 (features x bulks; rows of features
    with zero variance are 0), the mean log CPM of every feature, the number of bulks in which
    it has non-zero counts and whether its variance is non-zero.
    """
    n, m = counts.shape
    totals = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    scale = np.divide(_CPM, totals, out=np.zeros_like(totals), where=totals > 0)
    z = np.empty((m, n), dtype=np.float64)
    mean = np.empty(m, dtype=np.float64)
    detected = np.empty(m, dtype=np.int64)
    ok = np.empty(m, dtype=bool)
    step = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for lo in range(0, m, step):
        hi = min(lo + step, m)
        block = counts[:, lo:hi]
        block = block.toarray() if sp.issparse(block) else np.array(block, dtype=np.float64)
        detected[lo:hi] = (block > 0).sum(axis=0)
        block *= scale[:, None]
        np.log1p(block, out=block)
        mean[lo:hi] = block.mean(axis=0)
        if method == "spearman":
            block = rankdata(block, axis=0, method="average")
        if groups is not None:
            _group_centred(block, groups)
        else:
            block -= block.mean(axis=0, keepdims=True)
        norms = np.sqrt((block * block).sum(axis=0))
        # relative tolerance: constant features give round-off, not variance
        good = norms > 1e-12 * np.maximum(np.abs(block).max(axis=0, initial=0.0), 1.0)
        good &= norms > 0
        ok[lo:hi] = good
        block[:, ~good] = 0.0
        block[:, good] /= norms[good]
        z[lo:hi] = block.T
    return z, mean, detected, ok


# --------------------------------------------------------------------------------------------
# Statistics helpers
# --------------------------------------------------------------------------------------------
def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN stays NaN, not counted in the tests)."""
    q = np.full(p.shape, np.nan)
    fin = np.flatnonzero(np.isfinite(p))
    if fin.size == 0:
        return q
    pf = p[fin]
    order = np.argsort(pf, kind="stable")
    ranked = pf[order] * fin.size / np.arange(1, fin.size + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(fin.size)
    out[order] = np.minimum(adj, 1.0)
    q[fin] = out
    return q


def _pair_scores(g: np.ndarray, p: np.ndarray, gi: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """Row-wise dot products ``g[gi[k]] . p[pi[k]]`` in chunks."""
    out = np.empty(gi.size, dtype=np.float64)
    step = max(1, _CHUNK_ELEMENTS // max(g.shape[1], 1))
    for lo in range(0, gi.size, step):
        hi = min(lo + step, gi.size)
        out[lo:hi] = np.einsum("ij,ij->i", g[gi[lo:hi]], p[pi[lo:hi]])
    return np.clip(out, -1.0, 1.0)


class _BackgroundSampler:
    """Draw background peaks matched on accessibility bin, from other chromosomes.

    The candidate peaks of bin ``b`` for a gene on chromosome ``c`` are the pool peaks in bin
    ``b`` not on ``c``. Pool peaks are sorted by (bin, chromosome), so these candidates are
    the bin's block minus one contiguous segment and a uniform draw needs no per-gene lists.
    Bin ``n_bins`` is a virtual bin holding the whole pool (fallback when a bin has fewer than
    two candidates for a chromosome).
    """

    def __init__(
        self,
        pool: np.ndarray,
        pool_bin: np.ndarray,
        pool_chrom: np.ndarray,
        n_bins: int,
        n_chrom: int,
    ):
        self.n_bins = n_bins
        bins = np.concatenate([pool_bin, np.full(pool.size, n_bins)])
        chroms = np.concatenate([pool_chrom, pool_chrom])
        peaks = np.concatenate([pool, pool])
        order = np.lexsort((chroms, bins))
        self.sorted_peaks = peaks[order]
        self.sorted_chrom = chroms[order]
        counts = np.zeros((n_bins + 1, n_chrom), dtype=np.int64)
        np.add.at(counts, (bins, chroms), 1)
        self.bin_size = counts.sum(axis=1)
        self.bin_start = np.concatenate([[0], np.cumsum(self.bin_size)[:-1]])
        self.seg_size = counts
        self.seg_start = np.cumsum(counts, axis=1) - counts  # relative to the bin start

    def candidates(self, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return self.bin_size[b] - self.seg_size[b, c]

    def sample(self, b: int, c: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """``(len(c), k)`` draws (with replacement) for bin ``b``: positions in its block.

        Row ``i`` holds positions ``r`` into ``self.block(b)`` of peaks not on chromosome
        ``c[i]``; :meth:`peaks` turns them into peak indices.
        """
        m = self.candidates(np.full(c.size, b), c)
        r = np.minimum((rng.random((c.size, k)) * m[:, None]).astype(np.int64), m[:, None] - 1)
        r += np.where(r >= self.seg_start[b, c][:, None], self.seg_size[b, c][:, None], 0)
        return r

    def block(self, b: int) -> np.ndarray:
        """Peak indices of bin ``b``, sorted by chromosome."""
        return self.sorted_peaks[self.bin_start[b] : self.bin_start[b] + self.bin_size[b]]

    def peaks(self, b: int, r: np.ndarray) -> np.ndarray:
        """Peak indices of the in-block positions ``r`` of bin ``b``."""
        return self.block(b)[r]


def _sample_background(
    sampler: _BackgroundSampler, b: int, c: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Background draws for genes on chromosomes ``c`` in bin ``b`` (positions in the bin's block).

    A seam for tests and diagnostics: ``sampler.peaks(b, result)`` gives the peak indices.
    """
    return sampler.sample(b, c, k, rng)


def _background_stats(
    sampler: _BackgroundSampler,
    g32: np.ndarray,
    p32: np.ndarray,
    grp_gene: np.ndarray,
    grp_bin: np.ndarray,
    grp_chrom: np.ndarray,
    k: int,
    rng: np.random.Generator,
    progress: bool,
    robust: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd (ddof=1) of each group's gene vs its ``k`` background peaks.

    ``robust``: the median and ``1.4826 x`` the median absolute deviation instead, which the
    minority of background peaks sharing a program with the gene does not inflate.

    Per bin, the correlations of the bin's genes with *all* peaks of the bin are one matrix
    product (BLAS) in row chunks; the sampled background is then read from that matrix, which
    is much faster than gathering ``k`` peak profiles per gene.
    """
    mean = np.empty(grp_gene.size, dtype=np.float64)
    sd = np.empty(grp_gene.size, dtype=np.float64)
    order = np.argsort(grp_bin, kind="stable")
    bounds = np.searchsorted(grp_bin[order], np.arange(sampler.n_bins + 2))
    bins = [b for b in range(sampler.n_bins + 1) if bounds[b + 1] > bounds[b]]
    for b in tqdm(bins, desc="link_peaks background", disable=not progress or len(bins) < 4):
        rows = order[bounds[b] : bounds[b + 1]]
        block = p32[sampler.block(b)]  # (bin size, bulks)
        step = max(1, _CHUNK_ELEMENTS // max(block.shape[0], k))
        for lo in range(0, rows.size, step):
            sel = rows[lo : lo + step]
            r = _sample_background(sampler, b, grp_chrom[sel], k, rng)
            corr = g32[grp_gene[sel]] @ block.T  # (chunk, bin size)
            bg = np.take_along_axis(corr, r, axis=1).astype(np.float64)
            if robust:
                mean[sel] = np.median(bg, axis=1)
                sd[sel] = _MAD_TO_SD * np.median(np.abs(bg - mean[sel, None]), axis=1)
            else:
                mean[sel] = bg.mean(axis=1)
                sd[sel] = bg.std(axis=1, ddof=1)
    return mean, sd


# --------------------------------------------------------------------------------------------
# link_peaks
# --------------------------------------------------------------------------------------------
def _aligned(rna_bulk: AnnData, atac_bulk: AnnData) -> AnnData:
    """``atac_bulk`` in the bulk order of ``rna_bulk``; error if the bulks differ."""
    for what, ad in (("rna_bulk", rna_bulk), ("atac_bulk", atac_bulk)):
        if not isinstance(ad, AnnData):
            raise MinNetInputError(f"{what} must be an AnnData object, got {type(ad).__name__}.")
        if not ad.obs_names.is_unique:
            raise MinNetInputError(f"{what}.obs_names are not unique.")
    check_same_obs(rna_bulk, atac_bulk, ("rna_bulk", "atac_bulk"), "mini-bulks",
                   "Use the pair returned by minibulk().")
    if (rna_bulk.obs_names == atac_bulk.obs_names).all():
        return atac_bulk
    return atac_bulk[rna_bulk.obs_names]


def _empty_links() -> pd.DataFrame:
    """A links table without rows, with the columns' dtypes."""
    return pd.DataFrame(
        {
            "gene": pd.Series([], dtype=object),
            "peak": pd.Series([], dtype=object),
            "distance": pd.Series([], dtype=np.int64),
            **{c: pd.Series([], dtype=np.float64) for c in LINK_COLUMNS[3:]},
        }
    )


def _checked_link_args(
    method: object, n_background: object, min_bulks: object, seed: object,
    distance_prior: object = True,
) -> tuple[str, int, int, int]:
    """``method`` (lower case), ``n_background``, ``min_bulks`` and ``seed``, validated
    (``distance_prior`` must be a bool)."""
    method = str(method).lower()
    if method not in METHODS:
        raise MinNetInputError(f"method must be one of {METHODS}, got {method!r}.")
    if not isinstance(distance_prior, bool | np.bool_):
        raise MinNetInputError(
            f"distance_prior must be True or False, got {distance_prior!r}."
        )
    return (
        method,
        check_int(n_background, "n_background", 2),
        check_int(min_bulks, "min_bulks", 1),
        check_int(seed, "seed", 0),
    )


def _bulk_groups(rna_bulk: AnnData, groupby: str | None) -> tuple[np.ndarray, str]:
    """Integer group code of every bulk for ``method="within"``, and the column used.

    ``groupby=None`` takes the group column that :func:`minnet.tl.minibulk` wrote (its
    ``uns["minnet_minibulk"]["groupby"][0]``, or ``"group"``).
    """
    if groupby is None:
        info = rna_bulk.uns.get("minnet_minibulk", {})
        col = str(np.asarray(info.get("groupby", ["None"]))[0]) if info else "None"
        groupby = "group" if col == "None" else col
    if groupby not in rna_bulk.obs.columns:
        raise MinNetInputError(
            f"method='within' needs the group of every bulk: column {groupby!r} is not in "
            f"rna_bulk.obs (available: {list(rna_bulk.obs.columns)[:20]}); pass groupby=."
        )
    col = rna_bulk.obs[groupby]
    if col.isna().any():
        raise MinNetInputError(f"rna_bulk.obs[{groupby!r}] has missing values.")
    codes = pd.factorize(col.astype(str))[0].astype(np.int64)
    if np.unique(codes).size >= codes.size - 2:
        raise MinNetInputError(
            f"method='within' needs more bulks than groups (+3): {codes.size} bulks in "
            f"{np.unique(codes).size} groups of rna_bulk.obs[{groupby!r}]. Make more mini-bulks."
        )
    return codes, groupby


def _check_n_bulks(n: int, min_bulks: int) -> None:
    """At least three bulks (a correlation needs them) and no more than ``min_bulks``."""
    if n < 3:
        raise MinNetInputError(
            f"link_peaks needs at least 3 bulks to estimate correlations, got {n}. Make more "
            "mini-bulks (minibulk(n_bulks=...)); 50-200 are typical."
        )
    if min_bulks > n:
        raise MinNetInputError(f"min_bulks={min_bulks} exceeds the number of bulks ({n}).")


def _unique_gene_names(rna_bulk: AnnData, atac_bulk: AnnData) -> pd.Index:
    """The genes of ``rna_bulk`` as str; genes and peaks must both be unique."""
    gene_names = pd.Index(rna_bulk.var_names.astype(str))
    if not gene_names.is_unique:
        raise MinNetInputError("rna_bulk.var_names (genes) are not unique.")
    if not pd.Index(atac_bulk.var_names).is_unique:
        raise MinNetInputError("atac_bulk.var_names (peaks) are not unique.")
    return gene_names


def _genes_to_link(
    ann: pd.DataFrame, gene_names: pd.Index, genes: Sequence[str] | str | None
) -> pd.DataFrame:
    """Annotation rows of the genes to link: in the data and, if given, in ``genes``."""
    in_data = ann["gene_name"].isin(gene_names)
    if genes is not None:
        wanted = pd.Index([str(g) for g in ([genes] if isinstance(genes, str) else genes)])
        unknown = wanted.difference(gene_names.intersection(ann["gene_name"]))
        if len(unknown):
            logger.warning(
                "link_peaks: %d requested gene(s) are not in both rna_bulk and the "
                "annotation, e.g. %s.",
                len(unknown),
                list(unknown[:5]),
            )
        in_data &= ann["gene_name"].isin(wanted)
    elif (~gene_names.isin(ann["gene_name"])).any():
        logger.info(
            "link_peaks: %d gene(s) of rna_bulk are not in the annotation and are skipped.",
            int((~gene_names.isin(ann["gene_name"])).sum()),
        )
    ann = ann.loc[in_data].reset_index(drop=True)
    if len(ann) == 0:
        raise MinNetInputError(
            "no gene to link: none of the requested genes / rna_bulk.var_names is in "
            f"annotation['gene_name'] (rna_bulk genes e.g. {list(gene_names[:3])})."
        )
    return ann


def _testable_pairs(
    pairs: pd.DataFrame,
    ann: pd.DataFrame,
    gene_names: pd.Index,
    g_test: np.ndarray,
    p_test: np.ndarray,
    min_bulks: int,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    """Candidate pairs whose gene and peak are both testable (the others dropped, logged).

    Returns
    -------
    ``(pairs, gi, pi, n_dropped)``: the kept pairs, their genes' rows in ``gene_names`` and
    their peaks' rows, and the number of pairs dropped.
    """
    gi = gene_names.get_indexer(ann["gene_name"].to_numpy()[pairs["gene_idx"].to_numpy()])
    pi = pairs["peak_idx"].to_numpy()
    keep = g_test[gi] & p_test[pi]
    n_drop = int((~keep).sum())
    if n_drop:
        logger.info(
            "link_peaks: %d of %d candidate pair(s) dropped: their gene or peak has zero "
            "variance or non-zero counts in fewer than %d bulks.",
            n_drop,
            len(pairs),
            min_bulks,
        )
    return pairs.loc[keep].reset_index(drop=True), gi[keep], pi[keep], n_drop


def _accessibility_bins(
    p_mean: np.ndarray, pool: np.ndarray, n_background: int
) -> tuple[int, np.ndarray, np.ndarray]:
    """Equal-size quantile bins of mean log CPM over the testable peaks ``pool``.

    Returns
    -------
    ``(n_bins, pool_bin, peak_bin)``: the number of bins, the bin of every pool peak and that
    of every peak (-1 outside the pool).
    """
    n_bins = int(max(1, min(_MAX_BINS, pool.size // (2 * n_background))))
    rank = np.empty(pool.size, dtype=np.int64)
    rank[np.argsort(p_mean[pool], kind="stable")] = np.arange(pool.size)
    pool_bin = rank * n_bins // pool.size
    peak_bin = np.full(p_mean.size, -1, dtype=np.int64)
    peak_bin[pool] = pool_bin
    return n_bins, pool_bin, peak_bin


def _gene_bin_groups(
    gi: np.ndarray, pi: np.ndarray, peak_bin: np.ndarray, chrom_codes: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The (gene, accessibility bin) groups of the pairs: each group shares one background.

    Returns
    -------
    ``(grp_gene, grp_bin, grp_chrom, inverse)``: every group's gene row, bin and chromosome
    code, and the group of every pair.
    """
    key = gi.astype(np.int64) * (n_bins + 1) + peak_bin[pi]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    grp_chrom = chrom_codes[pi[first]]  # candidate peaks lie on the gene's chromosome
    return gi[first], peak_bin[pi[first]], grp_chrom, inverse


def _fall_back_to_all_bins(
    sampler: _BackgroundSampler, grp_bin: np.ndarray, grp_chrom: np.ndarray, chrom_names: pd.Index
) -> np.ndarray:
    """The groups' bins, or the whole pool (virtual bin) where a bin lacks two candidates."""
    short = sampler.candidates(grp_bin, grp_chrom) < 2
    if not short.any():
        return grp_bin
    if (sampler.candidates(np.array([sampler.n_bins]), grp_chrom[short]) < 2).any():
        raise MinNetInputError(
            "background peaks must come from other chromosomes than the gene's, but fewer "
            "than two testable peaks lie on other chromosomes (peaks on "
            f"{list(chrom_names[:8])}). link_peaks needs peaks on at least two chromosomes."
        )
    logger.info(
        "link_peaks: %d (gene, accessibility bin) group(s) have fewer than 2 background "
        "candidates on other chromosomes in their bin; sampling from all bins instead.",
        int(short.sum()),
    )
    return np.where(short, sampler.n_bins, grp_bin)


def _background_zscores(
    score: np.ndarray,
    g32: np.ndarray,
    p32: np.ndarray,
    gi: np.ndarray,
    pi: np.ndarray,
    p_test: np.ndarray,
    p_mean: np.ndarray,
    peak_chrom: np.ndarray,
    n_background: int,
    seed: int,
    progress: bool,
    robust: bool = False,
) -> tuple[np.ndarray, int]:
    """z-scores of the pairs against accessibility-matched background peaks; and the bin count.

    Steps 4 and 5 of :func:`link_peaks`: the background of a (gene, bin) group is drawn from
    the bin's testable peaks on other chromosomes than the gene's.
    """
    pool = np.flatnonzero(p_test)
    chrom_codes, chrom_names = pd.factorize(peak_chrom)
    n_bins, pool_bin, peak_bin = _accessibility_bins(p_mean, pool, n_background)
    sampler = _BackgroundSampler(pool, pool_bin, chrom_codes[pool], n_bins, len(chrom_names))
    grp_gene, grp_bin, grp_chrom, inverse = _gene_bin_groups(gi, pi, peak_bin, chrom_codes, n_bins)
    grp_bin = _fall_back_to_all_bins(sampler, grp_bin, grp_chrom, chrom_names)
    rng = np.random.default_rng(seed)
    bg_mean, bg_sd = _background_stats(
        sampler, g32, p32, grp_gene, grp_bin, grp_chrom, n_background, rng, progress, robust
    )
    sd = bg_sd[inverse]
    if robust:
        # a median absolute deviation can fall below the spread of the correlation of two
        # unrelated features over these bulks by chance, which would inflate z; floor it there
        sd = np.maximum(sd, 1.0 / np.sqrt(max(g32.shape[1] - 1, 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, (score - bg_mean[inverse]) / sd, np.nan)
    return z, n_bins


def _link_table(
    pairs: pd.DataFrame, score: np.ndarray, z: np.ndarray, method: str, distance_prior: bool
) -> tuple[pd.DataFrame, dict | None]:
    """The links table, with p-values and q-values; and the two-groups fit, if any.

    Robust methods get the one-sided ``Phi(-z)`` of a test for positive links, the others
    Signac's ``Phi(-|z|)`` (kept for the paper's statistics). ``"empirical_bayes"`` scores
    every pair by its posterior probability of a link (:mod:`minnet.tl._link_prior`) and its
    q-value is the Bayesian FDR (``distance_prior=False``: one distance bin); the others
    score by ``correlation`` with BH q-values.
    """
    pvalue = norm.sf(z) if method in ROBUST_METHODS else norm.sf(np.abs(z))
    distance = pairs["distance"].to_numpy(dtype=np.int64)
    fit = None
    if method == "empirical_bayes":
        posterior, two_groups = fit_two_groups(
            z, distance if distance_prior else np.zeros_like(distance)
        )
        link_score, qvalue, fit = posterior, bayes_fdr(posterior), two_groups.as_dict()
    else:
        link_score, qvalue = score, _bh(pvalue)
    table = pd.DataFrame(
        {
            "gene": pairs["gene"].to_numpy(dtype=object),
            "peak": pairs["peak"].to_numpy(dtype=object),
            "distance": distance,
            "score": link_score,
            "zscore": z,
            "pvalue": pvalue,
            "qvalue": qvalue,
            "correlation": score,
        }
    )
    return table, fit


def subset_links(links: pd.DataFrame, rows: np.ndarray | pd.Series) -> pd.DataFrame:
    """Some rows of a links table, their q-values recomputed over those rows alone.

    Use it to test a chosen set of pairs (e.g. each peak with the gene it was assigned to):
    restricting the table first and then reading its q-values would count the multiple
    testing of every pair. The method in ``links.attrs["minnet_link_peaks"]`` decides how:
    ``"empirical_bayes"`` keeps every pair's posterior (``score``, fitted on all pairs) and
    recomputes the Bayesian FDR; the others apply Benjamini–Hochberg to ``pvalue``.

    Parameters
    ----------
    links
        A table from :func:`link_peaks` or :func:`peak_gene_links` (not modified).
    rows
        Boolean mask over the table's rows.

    Returns
    -------
    The kept rows (index reset) with their new ``qvalue``; ``attrs`` are carried over.
    """
    params = links.attrs.get("minnet_link_peaks")
    if not params or "method" not in params:
        raise MinNetInputError(
            "links.attrs['minnet_link_peaks'] is missing: pass a table made by "
            "minnet.tl.link_peaks or peak_gene_links (its attrs record the method).")
    mask = np.asarray(rows)
    if mask.dtype != bool or mask.shape != (len(links),):
        raise MinNetInputError(
            f"rows must be a boolean mask of the table's {len(links)} rows, got "
            f"{mask.dtype} of shape {mask.shape}.")
    out = links[mask].reset_index(drop=True)
    if params["method"] == "empirical_bayes":
        out["qvalue"] = bayes_fdr(out["score"].to_numpy(dtype=np.float64))
    else:
        out["qvalue"] = _bh(out["pvalue"].to_numpy(dtype=np.float64))
    out.attrs = links.attrs
    return out


def link_peaks(
    rna_bulk: AnnData,
    atac_bulk: AnnData,
    annotation: pd.DataFrame | str | os.PathLike,
    distance: int = 150_000,
    method: Literal["empirical_bayes", "spearman", "pearson", "robust", "within"] = (
        "empirical_bayes"
    ),
    genes: Sequence[str] | None = None,
    n_background: int = 200,
    min_bulks: int = 3,
    seed: int = 0,
    layer: str | None = None,
    atac_layer: str | None = None,
    progress: bool = True,
    groupby: str | None = None,
    distance_prior: bool = True,
) -> pd.DataFrame:
    """Link peaks to genes by their correlation across mini-bulks and their distance to the TSS.

    Steps:

    1. **Normalisation**: each bulk's summed counts are scaled to counts per million and
       log-transformed, ``log1p(1e6 * count / bulk total)``, per modality.
    2. **Candidate pairs**: every gene with every peak whose midpoint lies within
       ``distance`` bp of its TSS (:func:`minnet.genomics.peaks_near_genes`; the window is
       inclusive, ``distance`` = peak midpoint - TSS, not strand-aware).
    3. **Score**: Pearson correlation of log CPM across bulks (``method="pearson"``) or
       Spearman correlation (Pearson correlation of the per-feature ranks, average ranks for
       ties; ``method="spearman"``), the paper's statistics; or, with ``method="within"``,
       the Pearson correlation of log CPM *within* groups of bulks (every bulk's log CPM
       minus the mean of its group, ``rna_bulk.obs[groupby]``: the partial correlation
       given the group), which ignores what a gene and a peak share only through a
       cell-type program. ``"robust"`` and ``"empirical_bayes"`` correlate as
       ``"spearman"``. The correlation is returned as ``correlation``.
    4. **Background**: peaks are put into accessibility bins (equal-size quantile bins of mean
       log CPM over all testable peaks; ``min(50, n_peaks // (2 * n_background))`` bins, at
       least 1). For each gene and each bin holding one of its candidate peaks,
       ``n_background`` peaks are drawn uniformly, with replacement, from the bin's peaks on
       **other chromosomes** than the gene's (seeded ``numpy`` generator). The gene's pairs
       in that bin share this background. If a bin has fewer than two peaks on other
       chromosomes, all testable peaks on other chromosomes are used (logged).
    5. ``zscore = (score - mean(bg)) / sd(bg)`` with ``bg`` the gene's correlations with its
       background peaks (``sd`` with ``ddof=1``); ``pvalue = Phi(-|zscore|)`` as in Signac
       (a one-sided normal tail on ``|z|``: strongly *negative* links are significant too;
       filter on ``score`` for the sign). With ``method="robust"`` or ``"within"`` the
       background's location and spread are its median and ``1.4826 x`` its median absolute
       deviation (not inflated by the few background peaks that share the gene's program)
       and ``pvalue = Phi(-zscore)``, a one-sided test for *positive* links (accessibility
       rising with expression; negative correlations get p-values near 1). On the
       simulator (``benchmarks/links_quality.py``) ``"robust"`` finds several times the
       true links of ``"spearman"`` at q < 0.1 with a lower empirical FDR. ``qvalue`` is the
       Benjamini-Hochberg adjustment over all returned pairs, and ``score`` the correlation.
    6. ``method="empirical_bayes"`` (the default) goes on from the robust z-scores of step 5
       with a distance-aware two-groups model (:mod:`minnet.tl._link_prior`): a pair's
       z-score is standard normal if the peak does not regulate the gene and ``N(mu, sd^2)``
       (``mu >= 1``, ``sd >= 1``) if it does; the share of links is estimated per bin of
       |distance| to the TSS (0-1 kb, 1-2 kb, 2-5 kb, ... 125-150 kb, ...; bins with fewer
       than 200 pairs merged outward), all by EM on the data's own z-scores. ``score`` is
       the posterior probability of a link, ``P(link | zscore, distance)``, and ``qvalue``
       the Bayesian FDR (the mean of ``1 - score`` over the pairs scoring at least as high),
       so ``qvalue < 0.1`` expects at most 10 % non-links among the calls when the model
       holds (weak links counted as non-links make it conservative). Regulatory links
       are mostly weak at mini-bulk resolution and denser near the TSS; the model learns
       from the data how much evidence distance adds (none: every bin gets the same prior).
       On the simulator it ranks true links far better than the correlation (AUROC ~0.86
       against ~0.60) and finds 3-6x the true links of ``"robust"`` at q < 0.1 with an
       empirical FDR of 0.05-0.07 (``benchmarks/links_quality.py``).

    Genes and peaks with non-zero counts in fewer than ``min_bulks`` bulks, or with zero
    variance across bulks (undefined correlation), are not tested: their pairs are dropped
    and the number dropped is logged.

    Parameters
    ----------
    rna_bulk
        Bulks x genes summed RNA counts (e.g. from :func:`minnet.tl._minibulk.minibulk`),
        ``var_names`` = gene names as in ``annotation['gene_name']``.
    atac_bulk
        Bulks x peaks summed ATAC counts with the same ``obs_names`` (any order) and peak
        names such as ``chr1-100-200`` (see :func:`minnet.genomics.parse_peak_names`).
    annotation
        Gene annotation (DataFrame or TSV/CSV path) with ``gene_name``, ``chrom``, ``tss``,
        ``strand`` (see :func:`minnet.genomics.read_annotation`).
    distance
        Maximum |peak midpoint - TSS| in bp.
    method
        ``"empirical_bayes"`` (default; step 6), ``"spearman"`` (the paper's statistic),
        ``"pearson"``, ``"robust"`` (Spearman with a robust background and one-sided
        p-values; step 5) or ``"within"`` (correlation within the groups of ``groupby``;
        steps 3 and 5).
    genes
        Only link these genes (default: every gene of ``rna_bulk`` found in the annotation).
        With ``"empirical_bayes"`` every gene is still tested and fitted (so a gene's scores
        do not depend on this choice) and the q-values are over the returned pairs.
    n_background
        Background peaks per gene and accessibility bin (>= 2).
    min_bulks
        Minimum number of bulks with non-zero counts for a gene or peak to be tested (>= 1).
        At least three bulks are always required.
    seed
        Seed of the background sampling.
    layer, atac_layer
        Layers with the bulk counts (``None``: ``.X``).
    progress
        Show a progress bar over accessibility bins (only when there are several).
    groupby
        ``rna_bulk.obs`` column with every bulk's group for ``method="within"`` (default:
        the group column written by :func:`~minnet.tl._minibulk.minibulk`). There must be
        at least three more bulks than groups. Ignored by the other methods.
    distance_prior
        ``"empirical_bayes"`` only: let the share of links depend on the distance to the TSS
        (default). ``False`` fits one share for all pairs, for annotations whose TSSs are
        placeholders (e.g. genes placed at the centre of their assigned peaks).

    Returns
    -------
    pandas.DataFrame
        One row per tested pair, ordered by gene (annotation order) then peak position, with
        columns ``gene``, ``peak``, ``distance`` (int64), ``score``, ``zscore``, ``pvalue``,
        ``qvalue``, ``correlation`` (``score`` is the correlation too, except for
        ``"empirical_bayes"``: the posterior probability of a link).
        ``df.attrs["minnet_link_peaks"]`` records the parameters, the number of
        accessibility bins, the counts of dropped pairs and, for ``"empirical_bayes"``, the
        fitted model (``two_groups``: distance bins' lower edges, prior per bin, pairs per
        bin, the alternative's mean and sd).

    Raises
    ------
    MinNetInputError
        If the bulks differ between the two objects or are fewer than three, the annotation
        lacks columns, peak names do not parse, no peak lies within ``distance`` of any gene
        (the message shows the chromosome names on each side), no gene is left to test, or
        background peaks on other chromosomes do not exist.
    """
    method, n_background, min_bulks, seed = _checked_link_args(
        method, n_background, min_bulks, seed, distance_prior
    )
    atac_bulk = _aligned(rna_bulk, atac_bulk)
    n = rna_bulk.n_obs
    _check_n_bulks(n, min_bulks)
    peaks = parse_peak_names(atac_bulk.var_names)
    ann = read_annotation(annotation)
    gene_names = _unique_gene_names(rna_bulk, atac_bulk)
    ann = _genes_to_link(ann, gene_names, genes)
    if method == "empirical_bayes" and genes is not None:
        # the two-groups model is fitted on every gene's pairs, so a gene's scores do not
        # depend on which other genes were asked for
        every = link_peaks(rna_bulk, atac_bulk, annotation, distance, method, None,
                           n_background, min_bulks, seed, layer, atac_layer, progress, groupby,
                           distance_prior)
        return subset_links(every, every["gene"].isin(ann["gene_name"]).to_numpy())
    pairs = peaks_near_genes(peaks, ann, distance)

    within, robust = method in WITHIN_METHODS, method in ROBUST_METHODS
    codes, group_col = _bulk_groups(rna_bulk, groupby) if within else (None, None)
    base = _BASE_STATISTIC.get(method, method)
    gz, _, g_det, g_ok = _standardized(
        _bulk_counts(rna_bulk, layer, "rna_bulk"), base, codes
    )
    pz, p_mean, p_det, p_ok = _standardized(
        _bulk_counts(atac_bulk, atac_layer, "atac_bulk"), base, codes
    )
    p_test = p_ok & (p_det >= min_bulks)
    pairs, gi, pi, n_drop = _testable_pairs(
        pairs, ann, gene_names, g_ok & (g_det >= min_bulks), p_test, min_bulks
    )
    params = {
        "distance": int(distance),
        "method": method,
        "n_background": n_background,
        "min_bulks": min_bulks,
        "seed": seed,
        "n_bulks": n,
        "n_pairs_dropped": n_drop,
        "groupby": group_col,
        "distance_prior": bool(distance_prior),
    }
    if len(pairs) == 0:
        logger.warning("link_peaks: no testable peak-gene pair is left.")
        out = _empty_links()
        out.attrs["minnet_link_peaks"] = params
        return out

    score = _pair_scores(gz, pz, gi, pi)
    g32, p32 = gz.astype(np.float32), pz.astype(np.float32)
    del gz, pz  # free the float64 copies before the background's matrix products
    z, n_bins = _background_zscores(
        score, g32, p32, gi, pi, p_test, p_mean, peaks["chrom"].to_numpy(dtype=object),
        n_background, seed, progress, robust,
    )
    out, two_groups = _link_table(pairs, score, z, method, bool(distance_prior))
    params["n_bins"] = n_bins
    if two_groups is not None:
        params["two_groups"] = two_groups
    out.attrs["minnet_link_peaks"] = params
    logger.info(
        "link_peaks: %d pairs of %d genes tested over %d bulks (%s, %d background peaks, "
        "%d accessibility bins); %d with qvalue < 0.05.",
        len(out),
        int(np.unique(gi).size),
        n,
        method,
        n_background,
        n_bins,
        int((out["qvalue"] < 0.05).sum()),
    )
    return out


# --------------------------------------------------------------------------------------------
# link_peaks_by_group
# --------------------------------------------------------------------------------------------
def link_peaks_by_group(
    rna_bulk: AnnData,
    atac_bulk: AnnData,
    annotation: pd.DataFrame | str | os.PathLike,
    groupby: str = "condition",
    groups: Sequence[str] | None = None,
    **kwargs,
) -> pd.DataFrame:
    """Run :func:`link_peaks` separately in each group of bulks and compare the scores.

    Parameters
    ----------
    rna_bulk, atac_bulk, annotation
        As in :func:`link_peaks`; the bulks of each group are analysed on their own (library
        normalisation, background and Benjamini-Hochberg adjustment are per group).
    groupby
        ``rna_bulk.obs`` column with the group of every bulk (e.g. condition or disease
        severity; give each bulk the group of its cells, e.g. by running
        :func:`~minnet.tl._minibulk.minibulk` per condition and concatenating).
    groups
        Groups to analyse (default: all, in category / sorted order).
    **kwargs
        Passed to :func:`link_peaks` (``distance``, ``method``, ``n_background``, ...).

    Returns
    -------
    pandas.DataFrame
        Long format: the :func:`link_peaks` columns plus ``group`` (after ``distance``) and
        ``score_change`` = the pair's score in this group minus the mean of its scores in the
        *other* analysed groups where it was tested (for two groups A and B: ``score_A -
        score_B`` in A's rows and the opposite in B's rows; NaN when the pair was tested in
        no other group). A link present only in group A therefore gets a large positive
        ``score_change`` in A. With the default ``method="empirical_bayes"`` the score is
        the posterior probability of a link (fitted per group); pass ``method="spearman"``
        to compare correlations.

    Notes
    -----
    Groups with fewer than 3 bulks cannot be analysed: they are skipped with a warning.

    Raises
    ------
    MinNetInputError
        If ``groupby`` is not in ``rna_bulk.obs``, a requested group does not exist, or fewer
        than two groups have at least 3 bulks.
    """
    atac_bulk = _aligned(rna_bulk, atac_bulk)
    if groupby not in rna_bulk.obs.columns:
        raise MinNetInputError(
            f"groupby column {groupby!r} is not in rna_bulk.obs; available: "
            f"{list(rna_bulk.obs.columns)[:20]}."
        )
    col = rna_bulk.obs[groupby]
    labels = col.astype(str).to_numpy(dtype=object)
    labels[col.isna().to_numpy()] = None
    if groups is None:
        cats = (
            [str(c) for c in col.cat.categories]
            if isinstance(col.dtype, pd.CategoricalDtype)
            else sorted({x for x in labels if x is not None})
        )
    else:
        cats = [str(g) for g in groups]
        missing = [g for g in cats if g not in set(labels)]
        if missing:
            raise MinNetInputError(
                f"group(s) {missing} not found in rna_bulk.obs[{groupby!r}]; present: "
                f"{sorted({x for x in labels if x is not None})[:20]}."
            )
    sizes = {g: int(np.sum(labels == g)) for g in cats}
    small = [g for g in cats if sizes[g] < 3]
    if small:
        logger.warning(
            "link_peaks_by_group: skipping group(s) with fewer than 3 bulks: %s.",
            {g: sizes[g] for g in small},
        )
    usable = [g for g in cats if sizes[g] >= 3]
    if len(usable) < 2:
        raise MinNetInputError(
            f"link_peaks_by_group needs at least two groups with >= 3 bulks each; bulks per "
            f"group in rna_bulk.obs[{groupby!r}]: {sizes}. Make more mini-bulks per group."
        )
    frames = []
    for g in usable:
        mask = labels == g
        df = link_peaks(rna_bulk[mask], atac_bulk[mask], annotation, **kwargs)
        df.insert(3, "group", g)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["group"] = pd.Categorical(out["group"], categories=usable)
    by_pair = out.groupby(["gene", "peak"], sort=False)["score"]
    total = by_pair.transform("sum")
    count = by_pair.transform("count")
    with np.errstate(divide="ignore", invalid="ignore"):
        other_mean = np.where(count > 1, (total - out["score"]) / (count - 1), np.nan)
    out["score_change"] = out["score"].to_numpy() - other_mean
    return out
