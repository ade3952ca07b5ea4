"""Seeded simulators of paired single-cell multi-omics data (RNA + ATAC, RNA + ADT).

The simulators drive the package demo, the integration tests and the peak-gene link
recovery tests, so they aim to be realistic enough to be informative while being fully
deterministic given ``seed``.

Generative model (shared by both simulators)
--------------------------------------------
* **Cell types** ``T0, T1, ...`` come in *lineages* (``obs['lineage']``: ``L0, L1, ...``)
  of two closely related types (the last lineage holds a single type when
  ``n_cell_types`` is odd).  A lineage has a strong marker program (6 % of the genes,
  log fold changes mostly +1..+3) shared by its types, and each type adds a small private
  program (1.5 % of the genes) plus mild per-gene noise.  Type proportions are drawn from
  a Dirichlet(15) (roughly balanced, never equal) and vary mildly between batches.
* **Continuous within-type state**: every cell has a 2-d latent state ``z ~ N(0, I)``
  (``obsm['latent_state']``); about 30 % of the genes load on it.
* **Gene-level chromatin noise**: a per-cell, per-gene Gaussian term (sd 0.25) is shared by
  a gene's RNA and all of its true regulatory peaks, so true links co-vary even within a
  cell type.
* **RNA** counts are gamma-Poisson (negative binomial) with gene-specific dispersion, gene
  base means spanning ~3 orders of magnitude and library sizes around 2,500 UMIs.
* **Batch effects**: per batch, per feature multiplicative log-normal factors with sd
  ``0.4 * batch_effect`` (RNA genes), ``0.35 * batch_effect`` (ATAC peaks, ADT proteins),
  plus per-batch library-size shifts with sd ``0.3 * batch_effect`` on the log scale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from minnet._utils import MinNetInputError
from minnet.validation import check_choice, check_int, check_number, check_seed

logger = logging.getLogger(__name__)

__all__ = [
    "SimulatedCiteseq",
    "SimulatedMultiome",
    "simulate_citeseq",
    "simulate_multiome",
]

#: Named ``batch_effect`` strengths accepted in place of a number.
BATCH_EFFECT_ALIASES: dict[str, float] = {"mild": 0.5, "strong": 1.5}

# --- model constants ------------------------------------------------------------------
_LATENT_DIM = 2
_MAX_CHROMOSOMES = 5
_PEAK_WIDTH = 500
_PEAK_MIN_GAP = 50  # minimal distance between two peaks (bp)
_DISTAL_MIN, _DISTAL_MAX = 3_000, 148_000  # |peak midpoint - TSS| of distal peaks
_GENE_LEN_MIN, _GENE_LEN_MAX = 5_000, 50_000
_GAP_MIN, _GAP_MEAN_EXTRA = 5_000, 60_000
_CHROM_PAD = 200_000  # free sequence before the first / after the last gene
_CHUNK_ENTRIES = 1 << 22  # dense entries generated at once per modality chunk
_TRUE_DISTAL_FRACTION = 0.5
_MAX_PEAKS_PER_GENE = 50

_RNA_LIB_MEAN = 2_500.0
_RNA_BATCH_SD = 0.4
_OTHER_BATCH_SD = 0.35
_LIB_BATCH_SD = 0.3
_CHROMATIN_NOISE_SD = 0.25


# --- result containers ----------------------------------------------------------------
@dataclass
class SimulatedMultiome:
    """Paired RNA + ATAC simulation (see :func:`simulate_multiome`).

    Attributes
    ----------
    rna
        Raw RNA counts (CSR float32, integer-valued), cells x genes.  ``obs`` holds
        ``cell_type``, ``batch`` and ``lineage`` (categoricals); ``var_names`` are
        ``Gene0000, Gene0001, ...``; ``obsm['latent_state']`` is the true continuous state.
    atac
        Raw peak counts (CSR float32), cells x peaks, same ``obs_names``/order/``obs`` as
        ``rna``.  ``var_names`` are ``chrN-start-end`` sorted by chromosome and position;
        ``var`` has ``chrom``, ``start``, ``end``, plus the ground truth ``peak_type``
        (``promoter``, ``distal_true``, ``distal_decoy``, ``background``) and
        ``anchor_gene`` (the gene a promoter/distal peak was placed around, ``""`` for
        background peaks).
    annotation
        One row per gene (same order as ``rna.var_names``): ``gene_name``, ``gene_id``,
        ``chrom``, ``tss`` (1-based), ``strand`` and ``end`` (other end of the gene body).
    links
        True regulatory peak -> gene links: ``gene``, ``peak``, ``distance`` (peak midpoint
        minus TSS, signed genomic bp), ``weight`` (> 0, coupling strength) and
        ``is_promoter``.  Promoter peaks are true links too.
    """

    rna: AnnData
    atac: AnnData
    annotation: pd.DataFrame
    links: pd.DataFrame


@dataclass
class SimulatedCiteseq:
    """Paired RNA + ADT (CITE-seq) simulation (see :func:`simulate_citeseq`).

    Attributes
    ----------
    rna
        Raw RNA counts, as in :class:`SimulatedMultiome`.
    adt
        Raw protein counts (CSR float32, integer-valued), same cells/``obs`` as ``rna``.
        ``var_names`` are ``ADT_<gene>``; ``var['gene']`` names the source gene whose
        expression program the protein mirrors.
    """

    rna: AnnData
    adt: AnnData


# --- argument checks --------------------------------------------------------------------
def _resolve_batch_effect(batch_effect: float | str) -> float:
    """The batch-effect strength as a number (>= 0); strings name :data:`BATCH_EFFECT_ALIASES`."""
    if isinstance(batch_effect, str):
        aliases = ", ".join(f"{k!r} = {v}" for k, v in BATCH_EFFECT_ALIASES.items())
        key = check_choice(
            batch_effect, "batch_effect", tuple(BATCH_EFFECT_ALIASES), ignore_case=True,
            hint=f"({aliases}), or pass a non-negative number.",
        )
        return BATCH_EFFECT_ALIASES[key]
    return check_number(
        batch_effect, "batch_effect", 0.0,
        description=f"a non-negative number or one of {sorted(BATCH_EFFECT_ALIASES)}",
    )


def _check_sizes(
    n_cells: object, n_cell_types: object, n_batches: object, n_genes: object
) -> tuple[int, int, int, int]:
    """The cell, type, batch and gene counts both simulators take, as checked ints."""
    return (
        check_int(n_cells, "n_cells", 1),
        check_int(n_cell_types, "n_cell_types", 2),
        check_int(n_batches, "n_batches", 1),
        check_int(n_genes, "n_genes", 10),
    )


# --- shared cell / gene model -------------------------------------------------------------
@dataclass
class _Design:
    """Everything about cells and genes that both modalities share."""

    types: np.ndarray  # (n,) int type index
    batches: np.ndarray  # (n,) int batch index
    lineage_of_type: np.ndarray  # (T,)
    z: np.ndarray  # (n, d) latent state
    quality: np.ndarray  # (n,) shared cell-quality factor (N(0, 1))
    log_lib: np.ndarray  # (n,) log RNA library size (incl. batch shift)
    log_prop: np.ndarray  # (G,) log base proportion of each gene
    type_effect: np.ndarray  # (T, G) log fold changes per type
    loadings: np.ndarray  # (d, G) latent loadings
    rna_batch: np.ndarray  # (B, G) log batch factors
    dispersion: np.ndarray  # (G,) gamma-Poisson dispersion (1 / shape)
    obs: pd.DataFrame
    gene_names: np.ndarray


def _simulate_design(
    rng: np.random.Generator,
    n_cells: int,
    n_cell_types: int,
    n_batches: int,
    n_genes: int,
    batch_effect: float,
) -> _Design:
    """Draw cells (composition, state, library size) and gene programs, in a fixed RNG order."""
    n_lineages = (n_cell_types + 1) // 2
    lineage_of_type = np.arange(n_cell_types) // 2
    batches, types = _draw_composition(rng, n_cells, n_cell_types, n_batches)
    z, quality, log_lib = _draw_cell_state(rng, batches, n_batches, batch_effect)
    log_prop, type_effect, loadings = _draw_gene_programs(
        rng, n_genes, n_lineages, lineage_of_type
    )
    rna_batch = rng.normal(0.0, _RNA_BATCH_SD * batch_effect, (n_batches, n_genes))
    dispersion = np.exp(rng.normal(np.log(0.3), 0.5, n_genes))

    width = max(4, len(str(n_genes - 1)))
    gene_names = np.array([f"Gene{i:0{width}d}" for i in range(n_genes)], dtype=object)
    return _Design(
        types=types,
        batches=batches,
        lineage_of_type=lineage_of_type,
        z=z,
        quality=quality,
        log_lib=log_lib,
        log_prop=log_prop,
        type_effect=type_effect,
        loadings=loadings,
        rna_batch=rna_batch,
        dispersion=dispersion,
        obs=_design_obs(types, batches, lineage_of_type, n_lineages, n_batches),
        gene_names=gene_names,
    )


def _draw_composition(
    rng: np.random.Generator, n_cells: int, n_cell_types: int, n_batches: int
) -> tuple[np.ndarray, np.ndarray]:
    """Batch and type of every cell: balanced-ish proportions that differ between batches.

    Cells are sorted by batch; every batch and every type gets a cell when there are enough.
    """
    props = rng.dirichlet(np.full(n_cell_types, 15.0))
    batch_props = rng.dirichlet(np.full(n_batches, 20.0))
    batches = np.sort(rng.choice(n_batches, size=n_cells, p=batch_props))
    if n_cells >= n_batches:  # every batch gets at least one cell
        batches[:n_batches] = np.arange(n_batches)
        batches = np.sort(batches)
    types = np.empty(n_cells, dtype=np.int64)
    for b in range(n_batches):
        idx = np.flatnonzero(batches == b)
        p_b = rng.dirichlet(60.0 * props)
        types[idx] = rng.choice(n_cell_types, size=idx.size, p=p_b)
    if n_cells >= n_cell_types:  # every type gets at least one cell
        slots = rng.choice(n_cells, size=n_cell_types, replace=False)
        types[slots] = np.arange(n_cell_types)
    return batches, types


def _draw_cell_state(
    rng: np.random.Generator, batches: np.ndarray, n_batches: int, batch_effect: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell latent state ``z``, quality factor and log RNA library size (batch-shifted)."""
    n_cells = batches.size
    z = rng.standard_normal((n_cells, _LATENT_DIM))
    quality = rng.standard_normal(n_cells)
    lib_batch = rng.normal(0.0, _LIB_BATCH_SD * batch_effect, n_batches)
    log_lib = (
        np.log(_RNA_LIB_MEAN)
        + 0.4 * (0.5 * quality + np.sqrt(0.75) * rng.standard_normal(n_cells))
        + lib_batch[batches]
    )
    return z, quality, log_lib


def _draw_gene_programs(
    rng: np.random.Generator, n_genes: int, n_lineages: int, lineage_of_type: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gene base proportions, per-type log fold changes and latent-state loadings.

    Each lineage has a marker program shared by its types; each type adds a private one.
    """
    n_cell_types = lineage_of_type.size
    log_prop = rng.normal(0.0, 2.0, n_genes)
    log_prop -= np.log(np.exp(log_prop).sum())

    n_lin_markers = max(3, int(round(0.06 * n_genes)))
    n_type_markers = max(2, int(round(0.015 * n_genes)))
    lineage_effect = rng.normal(0.0, 0.15, (n_lineages, n_genes))
    for lin in range(n_lineages):
        genes = rng.choice(n_genes, size=min(n_lin_markers, n_genes), replace=False)
        lfc = rng.uniform(1.0, 3.0, genes.size)
        down = rng.random(genes.size) < 0.2
        lfc[down] = -rng.uniform(0.7, 1.5, int(down.sum()))
        lineage_effect[lin, genes] += lfc
    type_effect = lineage_effect[lineage_of_type] + rng.normal(0.0, 0.1, (n_cell_types, n_genes))
    for t in range(n_cell_types):
        genes = rng.choice(n_genes, size=min(n_type_markers, n_genes), replace=False)
        type_effect[t, genes] += rng.uniform(1.0, 2.5, genes.size)

    loadings = np.zeros((_LATENT_DIM, n_genes))
    for k in range(_LATENT_DIM):
        genes = rng.choice(n_genes, size=max(1, int(round(0.15 * n_genes))), replace=False)
        loadings[k, genes] = rng.normal(0.0, 0.6, genes.size)
    return log_prop, type_effect, loadings


def _design_obs(
    types: np.ndarray,
    batches: np.ndarray,
    lineage_of_type: np.ndarray,
    n_lineages: int,
    n_batches: int,
) -> pd.DataFrame:
    """``obs`` shared by all modalities: categorical cell type, batch and lineage."""
    n_cells = types.size
    cwidth = max(5, len(str(n_cells - 1)))
    return pd.DataFrame(
        {
            "cell_type": pd.Categorical.from_codes(
                types, categories=[f"T{t}" for t in range(lineage_of_type.size)]
            ),
            "batch": pd.Categorical.from_codes(
                batches, categories=[f"batch{b}" for b in range(n_batches)]
            ),
            "lineage": pd.Categorical.from_codes(
                lineage_of_type[types], categories=[f"L{i}" for i in range(n_lineages)]
            ),
        },
        index=pd.Index([f"cell{i:0{cwidth}d}" for i in range(n_cells)]),
    )


def _chunk_size(n_features: int) -> int:
    """Cells per chunk so that a chunk holds about ``_CHUNK_ENTRIES`` dense entries."""
    return max(64, _CHUNK_ENTRIES // max(n_features, 1))


def _rna_log_mean(d: _Design, sl: slice, chrom_noise: np.ndarray) -> np.ndarray:
    """Log mean RNA counts for the cells in ``sl`` (dense, chunk x genes).

    Expression is compositional: each cell's relative expression is renormalised so that
    its expected total equals its library size.
    """
    log_rel = d.type_effect[d.types[sl]] + d.log_prop[None, :]
    log_rel += d.z[sl] @ d.loadings
    log_rel += d.rna_batch[d.batches[sl]]
    log_rel += chrom_noise
    row_max = log_rel.max(axis=1, keepdims=True)
    log_total = row_max + np.log(np.exp(log_rel - row_max).sum(axis=1, keepdims=True))
    log_rel += d.log_lib[sl, None] - log_total
    return log_rel


def _gamma_poisson(
    rng: np.random.Generator, mean: np.ndarray, dispersion: np.ndarray
) -> np.ndarray:
    """Negative-binomial draws with per-column dispersion (variance = mu + phi mu^2)."""
    rate = rng.gamma(shape=1.0 / dispersion, scale=dispersion) * mean
    return rng.poisson(rate)


def _sparse_poisson(rng: np.random.Generator, lam: np.ndarray) -> sp.csr_matrix:
    """Poisson draws for a dense matrix of mostly small rates, returned as float32 CSR.

    Uses inverse-CDF sampling from one uniform per entry: the zero test needs only
    ``u > exp(-lam)``, and only the (few) non-zero entries are followed further, which is
    much faster than :meth:`numpy.random.Generator.poisson` for sparse count data.
    """
    n_rows, n_cols = lam.shape
    u = rng.random(lam.shape, dtype=np.float32)
    p0 = np.exp(-lam)
    flat = np.flatnonzero(u > p0)
    del p0
    lam_nz = lam.ravel()[flat].astype(np.float64)
    u_nz = u.ravel()[flat].astype(np.float64)
    del u
    counts = np.ones(flat.size, dtype=np.float64)
    big = lam_nz > 20.0  # inverse CDF would need many steps: zero-truncated direct draws
    if big.any():
        draws = rng.poisson(lam_nz[big])
        while (draws == 0).any():  # pragma: no cover - P(0) < 2e-9 per entry
            zero = draws == 0
            draws[zero] = rng.poisson(lam_nz[big][zero])
        counts[big] = draws
    small = np.flatnonzero(~big)
    lam_s, u_s = lam_nz[small], u_nz[small]
    p = np.exp(-lam_s) * lam_s  # P(X = 1)
    cdf = np.exp(-lam_s) + p
    k = 1
    active = np.flatnonzero(u_s > cdf)
    while active.size:
        k += 1
        p[active] *= lam_s[active] / k
        cdf[active] += p[active]
        counts[small[active]] = k
        active = active[u_s[active] > cdf[active]]
    rows = flat // n_cols
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix(
        (counts.astype(np.float32), (flat % n_cols).astype(np.int32), indptr),
        shape=(n_rows, n_cols),
    )


def _to_csr(counts: np.ndarray) -> sp.csr_matrix:
    """Dense counts as float32 CSR."""
    return sp.csr_matrix(counts.astype(np.float32, copy=False))


def _make_anndata(blocks: list[sp.csr_matrix], obs: pd.DataFrame, var: pd.DataFrame) -> AnnData:
    """One AnnData from row blocks (sorted indices), with a copy of ``obs``."""
    x = sp.vstack(blocks, format="csr", dtype=np.float32)
    x.sort_indices()
    return AnnData(X=x, obs=obs.copy(), var=var)


# --- synthetic genome -------------------------------------------------------------------------
def _simulate_genome(
    rng: np.random.Generator, gene_names: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Place genes on chromosomes.

    Returns the annotation, each gene's chromosome index, the chromosome names and lengths.
    """
    n_genes = gene_names.size
    n_chrom = int(min(_MAX_CHROMOSOMES, max(1, n_genes // 20)))
    order = rng.permutation(n_genes)  # genomic order is unrelated to gene numbering
    lengths = np.exp(rng.uniform(np.log(_GENE_LEN_MIN), np.log(_GENE_LEN_MAX), n_genes))
    lengths = lengths.astype(np.int64)
    gaps = (_GAP_MIN + rng.exponential(_GAP_MEAN_EXTRA, n_genes)).astype(np.int64)
    strand_plus = rng.random(n_genes) < 0.5

    chrom_idx = np.empty(n_genes, dtype=np.int64)
    low = np.empty(n_genes, dtype=np.int64)  # 1-based leftmost base of the gene body
    chrom_len = np.empty(n_chrom, dtype=np.int64)
    for c, block in enumerate(np.array_split(order, n_chrom)):
        step = gaps[block] + lengths[block]
        first = _CHROM_PAD + int(rng.integers(0, 50_000))
        # gene i starts after all earlier genes and the gaps preceding genes 1..i
        starts = first + np.cumsum(step) - lengths[block] - gaps[block[0]]
        chrom_idx[block] = c
        low[block] = starts
        chrom_len[c] = starts[-1] + lengths[block[-1]] + _CHROM_PAD
    high = low + lengths - 1
    tss = np.where(strand_plus, low, high)
    end = np.where(strand_plus, high, low)
    chrom_names = np.array([f"chr{c + 1}" for c in range(n_chrom)], dtype=object)
    gwidth = max(6, len(str(n_genes - 1)))
    annotation = pd.DataFrame(
        {
            "gene_name": gene_names,
            "gene_id": [f"SIMG{i:0{gwidth}d}" for i in range(n_genes)],
            "chrom": chrom_names[chrom_idx],
            "tss": tss.astype(np.int64),
            "strand": np.where(strand_plus, "+", "-"),
            "end": end.astype(np.int64),
        }
    )
    return annotation, chrom_idx, chrom_names, chrom_len


def _place_peaks(
    rng: np.random.Generator,
    chrom_idx_gene: np.ndarray,
    tss: np.ndarray,
    plus: np.ndarray,
    chrom_len: np.ndarray,
    n_peaks_per_gene: int,
    n_background_peaks: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Promoter, distal and background peak centres without overlaps.

    Returns peak kind (0 promoter, 1 distal, 2 background), chromosome index, anchor gene
    (-1 for background), centre, all sorted by chromosome and position, and the
    (possibly extended) chromosome lengths.
    """
    n_genes = tss.size
    n_distal = n_peaks_per_gene - 1
    half = _PEAK_WIDTH // 2
    sign = np.where(plus, 1, -1)

    # promoter peaks: centre 0..1 kb upstream of the TSS -> overlaps TSS-2kb..TSS
    prom_center = tss - sign * rng.integers(0, 1_001, n_genes)
    # distal peaks: log-uniform distance 3..148 kb on either side of the TSS
    dist_gene = np.repeat(np.arange(n_genes), n_distal)

    def draw_distal(m: int) -> np.ndarray:
        mag = np.exp(rng.uniform(np.log(_DISTAL_MIN), np.log(_DISTAL_MAX), m))
        return (np.where(rng.random(m) < 0.5, -1, 1) * mag).astype(np.int64)

    dist_offset = draw_distal(dist_gene.size)
    # keep the genome sparse in peaks (<= 1 peak per 5 kb on average): extend chromosome
    # ends (gene deserts) when many background peaks are requested for few genes
    deficit = (n_genes * n_peaks_per_gene + n_background_peaks) * 5_000 - int(chrom_len.sum())
    if deficit > 0:
        chrom_len = chrom_len + -(-deficit // chrom_len.size)
    bg_chrom = rng.choice(chrom_len.size, size=n_background_peaks, p=chrom_len / chrom_len.sum())

    def draw_background(chroms: np.ndarray) -> np.ndarray:
        return rng.integers(half + 1_000, chrom_len[chroms] - half - 1_000)

    bg_center = draw_background(bg_chrom)

    n_prom = n_genes
    kind = np.concatenate(
        [
            np.zeros(n_prom, dtype=np.int8),
            np.ones(dist_gene.size, dtype=np.int8),
            np.full(n_background_peaks, 2, dtype=np.int8),
        ]
    )
    chrom = np.concatenate([chrom_idx_gene, chrom_idx_gene[dist_gene], bg_chrom])
    anchor = np.concatenate([np.arange(n_genes), dist_gene, np.full(n_background_peaks, -1)])
    center = np.concatenate([prom_center, tss[dist_gene] + dist_offset, bg_center])

    for _ in range(1_000):
        order = np.lexsort((center, chrom))
        c_sorted, x_sorted = chrom[order], center[order]
        clash = (c_sorted[1:] == c_sorted[:-1]) & (
            x_sorted[1:] - x_sorted[:-1] < _PEAK_WIDTH + _PEAK_MIN_GAP
        )
        if not clash.any():
            break
        left, right = order[:-1][clash], order[1:][clash]
        movable_right = kind[right] != 0
        if not np.all(movable_right | (kind[left] != 0)):  # pragma: no cover - by design
            raise RuntimeError("two promoter peaks overlap; genome layout is inconsistent")
        move = np.unique(np.where(movable_right, right, left))
        is_d = kind[move] == 1
        md = move[is_d]
        center[md] = tss[anchor[md]] + draw_distal(md.size)
        mb = move[~is_d]
        center[mb] = draw_background(chrom[mb])
    else:  # pragma: no cover - practically unreachable at realistic densities
        raise RuntimeError("could not place non-overlapping peaks; reduce the number of peaks")
    order = np.lexsort((center, chrom))  # sorted by chromosome and position
    return kind[order], chrom[order], anchor[order], center[order], chrom_len


def _decoy_programs(
    rng: np.random.Generator,
    m: int,
    d: _Design,
    p_constitutive: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Type effects (T, m) and latent loadings (dim, m) of peaks not linked to their gene.

    Mixture: the program of another, random gene (40 %), an open state in one or two random
    cell types (40 %), or constitutive / weakly variable accessibility (20 %).  With
    ``p_constitutive`` the last share is changed (background peaks use 50 %).
    """
    n_types, n_genes = d.type_effect.shape
    p_other = (1.0 - p_constitutive) / 2.0
    choice = rng.choice(3, size=m, p=[p_other, p_other, p_constitutive])
    teff = rng.normal(0.0, 0.2, (n_types, m))
    load = np.zeros((_LATENT_DIM, m))
    w = rng.uniform(0.5, 1.1, m)

    other = np.flatnonzero(choice == 0)
    src = rng.integers(0, n_genes, other.size)
    teff[:, other] = w[other] * d.type_effect[:, src]
    load[:, other] = w[other] * d.loadings[:, src]

    specific = np.flatnonzero(choice == 1)
    for j in specific:
        n_open = 1 if (n_types < 3 or rng.random() < 0.6) else 2
        open_types = rng.choice(n_types, size=n_open, replace=False)
        teff[open_types, j] += rng.uniform(1.0, 2.5)
    random_latent = specific[rng.random(specific.size) < 0.3]
    load[:, random_latent] = rng.normal(0.0, 0.5, (_LATENT_DIM, random_latent.size))
    return teff, load


# --- multiome: peak model and counts ---------------------------------------------------------
@dataclass
class _PeakModel:
    """Per-peak ground truth and accessibility model of :func:`simulate_multiome`."""

    kind: np.ndarray  # (P,) 0 promoter, 1 distal, 2 background
    anchor: np.ndarray  # (P,) gene a peak was placed around, -1 for background
    true_distal: np.ndarray  # (P,) distal peaks that truly regulate their anchor gene
    weight: np.ndarray  # (P,) coupling of a linked peak to its gene's program (0: unlinked)
    linked: np.ndarray  # indices of promoter and true distal peaks
    type_effect: np.ndarray  # (T, P) log accessibility per type
    loadings: np.ndarray  # (d, P) latent loadings
    log_base: np.ndarray  # (P,) log base accessibility
    batch: np.ndarray  # (B, P) log batch factors
    log_depth: np.ndarray  # (n,) log sequencing depth per cell (incl. batch shift)


def _simulate_peak_model(
    rng: np.random.Generator, d: _Design, kind: np.ndarray, anchor: np.ndarray, be: float
) -> _PeakModel:
    """Which peaks are true links (and how strong), their programs, base levels and depths."""
    n_peaks = kind.size
    true_distal = (kind == 1) & (rng.random(n_peaks) < _TRUE_DISTAL_FRACTION)
    weight = np.zeros(n_peaks)
    weight[kind == 0] = rng.uniform(0.5, 0.9, int((kind == 0).sum()))
    weight[true_distal] = rng.uniform(0.5, 1.2, int(true_distal.sum()))
    linked = np.flatnonzero((kind == 0) | true_distal)
    teff, load = _peak_programs(rng, d, kind, anchor, true_distal, weight, linked)

    base_level = np.select([kind == 0, kind == 1], [np.log(0.12), np.log(0.04)], np.log(0.035))
    log_base = base_level + rng.normal(0.0, 0.6, n_peaks)
    n_batches = d.rna_batch.shape[0]
    atac_batch = rng.normal(0.0, _OTHER_BATCH_SD * be, (n_batches, n_peaks))
    depth_batch = rng.normal(0.0, _LIB_BATCH_SD * be, n_batches)
    log_depth = (
        0.5 * (0.5 * d.quality + np.sqrt(0.75) * rng.standard_normal(d.types.size))
        + depth_batch[d.batches]
    )
    return _PeakModel(kind, anchor, true_distal, weight, linked, teff, load, log_base,
                      atac_batch, log_depth)


def _peak_programs(
    rng: np.random.Generator,
    d: _Design,
    kind: np.ndarray,
    anchor: np.ndarray,
    true_distal: np.ndarray,
    weight: np.ndarray,
    linked: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Type effects (T, P) and loadings (d, P): linked peaks follow their gene, others decoys."""
    n_peaks = kind.size
    teff = np.zeros((d.type_effect.shape[0], n_peaks))
    load = np.zeros((_LATENT_DIM, n_peaks))
    teff[:, linked] = weight[linked] * d.type_effect[:, anchor[linked]]
    load[:, linked] = weight[linked] * d.loadings[:, anchor[linked]]
    decoy = np.flatnonzero((kind == 1) & ~true_distal)
    teff[:, decoy], load[:, decoy] = _decoy_programs(rng, decoy.size, d, 0.2)
    bg = np.flatnonzero(kind == 2)
    teff[:, bg], load[:, bg] = _decoy_programs(rng, bg.size, d, 0.5)
    return teff, load


def _rna_counts(
    rng: np.random.Generator, d: _Design, sl: slice, chrom_noise: np.ndarray
) -> sp.csr_matrix:
    """RNA counts of the cells in ``sl`` (gamma-Poisson around the log mean)."""
    return _to_csr(_gamma_poisson(rng, np.exp(_rna_log_mean(d, sl, chrom_noise)), d.dispersion))


def _multiome_counts(
    rng: np.random.Generator, d: _Design, pm: _PeakModel
) -> tuple[list[sp.csr_matrix], list[sp.csr_matrix]]:
    """RNA and ATAC count blocks, drawn per chunk of cells so memory stays bounded.

    A chunk's gene-level chromatin noise enters both its RNA and its linked peaks.
    """
    f32 = np.float32
    n_cells, n_genes = d.types.size, d.gene_names.size
    peak_teff, peak_load = pm.type_effect.astype(f32), pm.loadings.astype(f32)
    log_base, atac_batch = pm.log_base.astype(f32), pm.batch.astype(f32)
    z32, log_depth = d.z.astype(f32), pm.log_depth.astype(f32)
    lk = pm.linked
    lk_anchor, lk_weight = pm.anchor[lk], pm.weight[lk].astype(f32)
    chunk = _chunk_size(max(n_genes, pm.kind.size))
    rna_blocks, atac_blocks = [], []
    for lo in range(0, n_cells, chunk):
        sl = slice(lo, min(lo + chunk, n_cells))
        m = sl.stop - sl.start
        noise = rng.standard_normal((m, n_genes), dtype=f32)
        noise *= f32(_CHROMATIN_NOISE_SD)
        rna_blocks.append(_rna_counts(rng, d, sl, noise))
        log_acc = peak_teff[d.types[sl]]
        log_acc += log_depth[sl, None]
        log_acc += log_base[None, :]
        log_acc += z32[sl] @ peak_load
        log_acc += atac_batch[d.batches[sl]]
        log_acc[:, lk] += noise[:, lk_anchor] * lk_weight
        del noise
        atac_blocks.append(_sparse_poisson(rng, np.exp(log_acc, out=log_acc)))
        del log_acc
    return rna_blocks, atac_blocks


def _peak_var(
    chrom_s: np.ndarray, center: np.ndarray, pm: _PeakModel, gene_names: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """ATAC ``var`` (coordinates and ground truth) and the peak names ``chrN-start-end``."""
    start = center - _PEAK_WIDTH // 2
    end = start + _PEAK_WIDTH
    peak_names = np.array(
        [f"{c}-{s}-{e}" for c, s, e in zip(chrom_s, start, end, strict=True)], dtype=object
    )
    type_labels = np.array(["promoter", "distal_true", "distal_decoy", "background"])
    kind = pm.kind
    ptype = np.where(kind == 0, 0, np.where(pm.true_distal, 1, np.where(kind == 1, 2, 3)))
    anchor_name = np.where(pm.anchor >= 0, gene_names[np.maximum(pm.anchor, 0)], "")
    var = pd.DataFrame(
        {
            "chrom": chrom_s,
            "start": start.astype(np.int64),
            "end": end.astype(np.int64),
            "peak_type": pd.Categorical(type_labels[ptype], categories=type_labels),
            "anchor_gene": anchor_name.astype(str),
        },
        index=pd.Index(peak_names.astype(str)),
    )
    return var, peak_names


def _true_links(
    pm: _PeakModel,
    gene_names: np.ndarray,
    peak_names: np.ndarray,
    center: np.ndarray,
    tss: np.ndarray,
) -> pd.DataFrame:
    """Promoter and true distal peak -> gene links, sorted by gene then distance."""
    lk = pm.linked
    lk_anchor = pm.anchor[lk]
    # the peak midpoint (start + end) // 2 is its centre
    links = pd.DataFrame(
        {
            "gene": gene_names[lk_anchor].astype(str),
            "peak": peak_names[lk].astype(str),
            "distance": (center[lk] - tss[lk_anchor]).astype(np.int64),
            "weight": pm.weight[lk].astype(float),
            "is_promoter": pm.kind[lk] == 0,
        }
    )
    return links.sort_values(["gene", "distance"], kind="stable").reset_index(drop=True)


def _record_simulation(adatas: tuple[AnnData, ...], z: np.ndarray, params: dict) -> None:
    """Store the true latent state and the simulation settings in every modality's object."""
    for ad in adatas:
        ad.obsm["latent_state"] = z.astype(np.float32)
        ad.uns["minnet_simulation"] = dict(params)


def _gene_var(d: _Design) -> pd.DataFrame:
    """RNA ``var``: indexed by gene name."""
    return pd.DataFrame(index=pd.Index(d.gene_names.astype(str)))


# --- public simulators --------------------------------------------------------------------------
def simulate_multiome(
    n_cells: int = 2000,
    n_cell_types: int = 8,
    n_batches: int = 2,
    n_genes: int = 1000,
    n_peaks_per_gene: int = 4,
    batch_effect: float | Literal["mild", "strong"] = 1.0,
    n_background_peaks: int = 1000,
    seed: int = 0,
) -> SimulatedMultiome:
    """Simulate paired scRNA-seq + scATAC-seq (10x Multiome-like) data.

    Parameters
    ----------
    n_cells
        Number of cells (> 0).  Cells are ordered by batch.
    n_cell_types
        Number of cell types (>= 2), named ``T0, T1, ...``.  Consecutive types ``T0/T1``,
        ``T2/T3``, ... form closely related pairs (``obs['lineage']``) that share their
        lineage marker program and differ in a few genes.
    n_batches
        Number of batches (>= 1), ``obs['batch']`` values ``batch0, batch1, ...``.
    n_genes
        Number of genes (>= 10).
    n_peaks_per_gene
        Peaks placed around each gene (1..50): one promoter peak plus
        ``n_peaks_per_gene - 1`` distal peaks within +-150 kb of the TSS, each of which is a
        true regulatory peak with probability 0.5 and a decoy otherwise.
    batch_effect
        Strength of the technical batch effects (>= 0; 0 means no batch effect).  Also
        accepts the strings ``"mild"`` (= 0.5) and ``"strong"`` (= 1.5).  It scales the sd of
        per-batch, per-feature log-normal factors (0.4 x for genes, 0.35 x for peaks) and
        of per-batch library-size shifts (0.3 x, log scale).
    n_background_peaks
        Additional peaks (>= 0) at random genomic positions with no link to any gene.
    seed
        Seed of :func:`numpy.random.default_rng`; the same seed gives identical output.

    Returns
    -------
    SimulatedMultiome
        ``rna`` and ``atac`` AnnData objects with identical ``obs``, the gene
        ``annotation`` and the true ``links`` (promoter peaks are included as true links,
        with ``is_promoter=True``).

    Notes
    -----
    The genome has up to five chromosomes ``chr1..chr5`` (fewer for < 100 genes).  Gene
    bodies are 5-50 kb long and separated by gaps of >= 5 kb (mean 65 kb).  Peaks are
    500 bp wide, never overlap, and are sorted by chromosome and position.  Accessibility
    of a promoter or true distal peak follows its gene's log expression program (cell
    type, latent state and gene-level chromatin noise) scaled by the link ``weight``
    (0.5-0.9 for promoters, 0.5-1.2 for distal peaks).  Decoys follow another gene's
    program, a random cell type's or are constitutive.  ATAC counts are Poisson of cell
    depth x accessibility (typically ~10 % non-zero entries, ~80 % of them equal to 1).

    Examples
    --------
    >>> from minnet.datasets import simulate_multiome
    >>> sim = simulate_multiome(n_cells=500, n_genes=200, seed=1)
    >>> sim.rna.shape[0] == sim.atac.shape[0] == 500
    True
    """
    n_cells, n_cell_types, n_batches, n_genes = _check_sizes(
        n_cells, n_cell_types, n_batches, n_genes
    )
    n_peaks_per_gene = check_int(n_peaks_per_gene, "n_peaks_per_gene", 1)
    if n_peaks_per_gene > _MAX_PEAKS_PER_GENE:
        raise MinNetInputError(
            f"n_peaks_per_gene must be <= {_MAX_PEAKS_PER_GENE} (peaks within +-150 kb of a "
            f"TSS could not be placed without overlaps), got {n_peaks_per_gene}."
        )
    n_background_peaks = check_int(n_background_peaks, "n_background_peaks", 0)
    be = _resolve_batch_effect(batch_effect)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)

    d = _simulate_design(rng, n_cells, n_cell_types, n_batches, n_genes, be)
    annotation, chrom_idx_gene, chrom_names, chrom_len = _simulate_genome(rng, d.gene_names)
    tss = annotation["tss"].to_numpy()
    plus = annotation["strand"].to_numpy() == "+"
    kind, chrom, anchor, center, chrom_len = _place_peaks(
        rng, chrom_idx_gene, tss, plus, chrom_len, n_peaks_per_gene, n_background_peaks
    )
    pm = _simulate_peak_model(rng, d, kind, anchor, be)
    rna_blocks, atac_blocks = _multiome_counts(rng, d, pm)

    var_atac, peak_names = _peak_var(chrom_names[chrom], center, pm, d.gene_names)
    atac = _make_anndata(atac_blocks, d.obs, var_atac)
    rna = _make_anndata(rna_blocks, d.obs, _gene_var(d))
    params = {
        "simulator": "simulate_multiome",
        "seed": seed,
        "batch_effect": be,
        "n_peaks_per_gene": n_peaks_per_gene,
        "n_background_peaks": n_background_peaks,
    }
    _record_simulation((rna, atac), d.z, params)
    atac.uns["minnet_simulation"]["chrom_sizes"] = {
        str(c): int(n) for c, n in zip(chrom_names, chrom_len, strict=True)
    }
    links = _true_links(pm, d.gene_names, peak_names, center, tss)
    logger.info(
        "simulated multiome: %d cells, %d genes, %d peaks (%d true links), batch_effect=%.2f",
        n_cells,
        n_genes,
        center.size,
        len(links),
        be,
    )
    return SimulatedMultiome(rna=rna, atac=atac, annotation=annotation, links=links)


# --- CITE-seq: protein panel and counts ---------------------------------------------------------
@dataclass
class _ProteinPanel:
    """Per-protein model of :func:`simulate_citeseq`."""

    source: np.ndarray  # (Q,) index of the gene each protein mirrors (sorted)
    log_base: np.ndarray  # (Q,) log base level
    ambient: np.ndarray  # (Q,) ambient background counts
    batch: np.ndarray  # (B, Q) log batch factors
    log_lib: np.ndarray  # (n,) log ADT library size per cell (incl. batch shift)
    type_effect: np.ndarray  # (T, Q)
    loadings: np.ndarray  # (d, Q)
    dispersion: np.ndarray  # (Q,)


def _simulate_protein_panel(
    rng: np.random.Generator, d: _Design, n_proteins: int, be: float
) -> _ProteinPanel:
    """Choose source genes (preferring markers, like a real antibody panel) and protein levels."""
    n_genes, n_batches = d.gene_names.size, d.rna_batch.shape[0]
    marker_score = d.type_effect.std(axis=0) + np.abs(d.loadings).sum(axis=0)
    p = marker_score + 0.05
    src = np.sort(rng.choice(n_genes, size=n_proteins, replace=False, p=p / p.sum()))
    coupling = rng.uniform(0.8, 1.3, n_proteins)
    log_base = rng.normal(np.log(10.0), 0.8, n_proteins)
    ambient = np.exp(log_base) * rng.uniform(0.1, 0.4, n_proteins)
    adt_batch = rng.normal(0.0, _OTHER_BATCH_SD * be, (n_batches, n_proteins))
    lib_batch = rng.normal(0.0, _LIB_BATCH_SD * be, n_batches)
    log_adt_lib = (
        0.4 * (0.5 * d.quality + np.sqrt(0.75) * rng.standard_normal(d.types.size))
        + lib_batch[d.batches]
    )
    return _ProteinPanel(
        source=src,
        log_base=log_base,
        ambient=ambient,
        batch=adt_batch,
        log_lib=log_adt_lib,
        type_effect=coupling * d.type_effect[:, src],
        loadings=coupling * d.loadings[:, src],
        dispersion=np.full(n_proteins, 0.1),
    )


def _citeseq_counts(
    rng: np.random.Generator, d: _Design, panel: _ProteinPanel
) -> tuple[list[sp.csr_matrix], list[sp.csr_matrix]]:
    """RNA and ADT count blocks, drawn per chunk of cells."""
    n_cells, n_genes, n_proteins = d.types.size, d.gene_names.size, panel.source.size
    chunk = _chunk_size(n_genes)
    rna_blocks, adt_blocks = [], []
    for lo in range(0, n_cells, chunk):
        sl = slice(lo, min(lo + chunk, n_cells))
        m = sl.stop - sl.start
        noise = rng.normal(0.0, _CHROMATIN_NOISE_SD, (m, n_genes))
        rna_blocks.append(_rna_counts(rng, d, sl, noise))
        signal = np.exp(
            panel.log_base
            + panel.type_effect[d.types[sl]]
            + d.z[sl] @ panel.loadings
            + rng.normal(0.0, 0.3, (m, n_proteins))
        )
        mean = np.exp(panel.log_lib[sl, None] + panel.batch[d.batches[sl]]) * (
            signal + panel.ambient
        )
        adt_blocks.append(_to_csr(_gamma_poisson(rng, mean, panel.dispersion)))
    return rna_blocks, adt_blocks


def simulate_citeseq(
    n_cells: int = 2000,
    n_cell_types: int = 8,
    n_batches: int = 2,
    n_genes: int = 1000,
    n_proteins: int = 50,
    batch_effect: float | Literal["mild", "strong"] = 1.0,
    seed: int = 0,
) -> SimulatedCiteseq:
    """Simulate paired scRNA-seq + surface protein (CITE-seq ADT) data.

    Parameters
    ----------
    n_cells, n_cell_types, n_batches, n_genes
        As in :func:`simulate_multiome`.
    n_proteins
        Number of proteins (1 <= n_proteins <= n_genes).  Each mirrors the expression
        program of one source gene (chosen preferentially among cell-type markers, like a
        real antibody panel) with its own noise.
    batch_effect
        Batch-effect strength (>= 0) or ``"mild"`` (0.5) / ``"strong"`` (1.5); see
        :func:`simulate_multiome`.  Proteins get per-batch factors with sd
        0.35 x ``batch_effect`` and per-batch library shifts with sd 0.3 x ``batch_effect``.
    seed
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    SimulatedCiteseq
        ``rna`` and ``adt`` AnnData objects with identical ``obs``.

    Notes
    -----
    Protein counts are gamma-Poisson (dispersion 0.1) around
    ``library x batch x (signal + ambient)``, where the log signal is
    ``coupling x program(source gene) + N(0, 0.3)`` per cell (coupling 0.8-1.3) and the
    ambient background is 10-40 % of the protein's base level, so every protein has a
    non-zero floor as in real ADT data.  Base levels are ~10 counts per protein (log-normal),
    so 50 proteins give ADT libraries of ~1,000-2,000 counts per cell.

    Examples
    --------
    >>> from minnet.datasets import simulate_citeseq
    >>> sim = simulate_citeseq(n_cells=300, n_genes=200, n_proteins=20, seed=2)
    >>> sim.adt.shape
    (300, 20)
    """
    n_cells, n_cell_types, n_batches, n_genes = _check_sizes(
        n_cells, n_cell_types, n_batches, n_genes
    )
    n_proteins = check_int(n_proteins, "n_proteins", 1)
    if n_proteins > n_genes:
        raise MinNetInputError(
            f"n_proteins ({n_proteins}) must not exceed n_genes ({n_genes}): every protein "
            "mirrors one gene."
        )
    be = _resolve_batch_effect(batch_effect)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)

    d = _simulate_design(rng, n_cells, n_cell_types, n_batches, n_genes, be)
    panel = _simulate_protein_panel(rng, d, n_proteins, be)
    rna_blocks, adt_blocks = _citeseq_counts(rng, d, panel)

    rna = _make_anndata(rna_blocks, d.obs, _gene_var(d))
    src_names = d.gene_names[panel.source].astype(str)
    var_adt = pd.DataFrame({"gene": src_names}, index=pd.Index([f"ADT_{g}" for g in src_names]))
    adt = _make_anndata(adt_blocks, d.obs, var_adt)
    _record_simulation((rna, adt), d.z,
                       {"simulator": "simulate_citeseq", "seed": seed, "batch_effect": be})
    logger.info(
        "simulated CITE-seq: %d cells, %d genes, %d proteins, batch_effect=%.2f",
        n_cells,
        n_genes,
        n_proteins,
        be,
    )
    return SimulatedCiteseq(rna=rna, adt=adt)
