"""Genomic coordinate helpers: peak names, gene annotations and peak-gene proximity.

Conventions
-----------
* All coordinates are **1-based and closed**: a peak named ``chr1-100-200`` covers the bases
  100, 101, ..., 200, and a TSS value is the 1-based position of the first transcribed base.
* A peak *overlaps* a window ``[a, b]`` when ``peak.start <= b`` and ``peak.end >= a``
  (inclusive at both edges: touching counts).
* The *midpoint* of a peak is ``(start + end) // 2`` (integer, rounded down).
* Distances are ``peak midpoint - TSS`` in genomic coordinates (positive = peak at a higher
  coordinate than the TSS), whatever the gene's strand.

All functions are vectorised: peaks are sorted once and windows are located with
:func:`numpy.searchsorted`, so no genes x peaks dense matrix is ever built.
"""

from __future__ import annotations

import csv
import lzma
import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from minnet._utils import MinNetInputError, logger, to_csr_float32
from minnet.validation import check_columns, check_counts, check_int

__all__ = [
    "parse_peak_names",
    "read_annotation",
    "check_bp",
    "harmonize_chromosomes",
    "peaks_near_genes",
    "gene_windows",
    "overlap_windows",
    "window_gaps",
    "PeakMapping",
    "map_peaks",
    "mapped_counts",
]

_PEAK_FORMATS = "'chr1-100-200', 'chr1:100-200', 'chr1_100_200' (also '1-100-200')"
_PEAK_RE = r"^(?P<chrom>.+)[:_-](?P<start>\d+)[_-](?P<end>\d+)$"

# Chromosome codes are packed with positions into one int64 key: code * _BIG + position.
_POS_BITS = 40
_BIG = np.int64(1) << _POS_BITS

_REQUIRED_ANNOTATION = ("gene_name", "chrom", "tss", "strand")
_ANNOTATION_FILE = (
    "a tab- or comma-separated text file, optionally gzip-compressed, with a header and the "
    "columns gene_name, chrom, tss, strand"
)
# Annotation positions share the peaks' limit: larger ones would overflow the int64 keys.
MAX_POSITION = int(_BIG) - 1
_STRAND_MAP = {
    "+": "+",
    "-": "-",
    "1": "+",
    "+1": "+",
    "-1": "-",
    "1.0": "+",
    "-1.0": "-",
}


# --------------------------------------------------------------------------------------------
# Peak names
# --------------------------------------------------------------------------------------------
def parse_peak_names(names: Sequence[str]) -> pd.DataFrame:
    """Parse peak names such as ``chr1-100-200`` into a coordinate table.

    Names are parsed from the right: the last two integer fields are ``start`` and ``end`` and
    everything before them is the chromosome, so contigs containing dashes or underscores
    (``chrUn_KI270728v1-100-200``) parse correctly.

    Parameters
    ----------
    names
        Peak names. Accepted formats: ``chr1-100-200``, ``chr1:100-200``, ``chr1_100_200`` and
        the same without a ``chr`` prefix (``1-100-200``).

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom`` (str), ``start`` (int64), ``end`` (int64), indexed by the original
        names (1-based closed coordinates).

    Raises
    ------
    MinNetInputError
        If any name does not parse or has ``start > end``; the message lists up to five of the
        offending names and the accepted formats.
    """
    index = pd.Index(names)
    if len(index) == 0:
        return pd.DataFrame(
            {
                "chrom": pd.Series([], dtype=object),
                "start": pd.Series([], dtype=np.int64),
                "end": pd.Series([], dtype=np.int64),
            },
            index=index,
        )
    as_str = pd.Series(index.astype(str), dtype=object)
    parts = as_str.str.extract(_PEAK_RE)
    bad = parts["chrom"].isna().to_numpy()
    if bad.any():
        offenders = as_str[bad].tolist()
        raise MinNetInputError(
            f"{int(bad.sum())} peak name(s) could not be parsed as genomic coordinates, e.g. "
            f"{offenders[:5]}. Accepted formats: {_PEAK_FORMATS}. Rename the peaks (var_names) "
            "to one of these formats."
        )
    start = parts["start"].astype(np.int64).to_numpy()
    end = parts["end"].astype(np.int64).to_numpy()
    inverted = start > end
    if inverted.any():
        offenders = as_str[inverted].tolist()
        raise MinNetInputError(
            f"{int(inverted.sum())} peak name(s) have start > end, e.g. {offenders[:5]}. "
            f"Expected names like {_PEAK_FORMATS} with start <= end."
        )
    if end.max() >= _BIG:
        raise MinNetInputError(
            f"peak coordinates up to {int(end.max())} exceed the supported maximum "
            f"{int(_BIG) - 1}; check the peak names."
        )
    return pd.DataFrame(
        {"chrom": parts["chrom"].to_numpy(dtype=object), "start": start, "end": end},
        index=index,
    )


# --------------------------------------------------------------------------------------------
# Gene annotation
# --------------------------------------------------------------------------------------------
def _read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a TSV/CSV table (separator from the extension, sniffed for other extensions).

    Only regular files are read (a directory, or a device such as ``/dev/zero`` that never
    ends, is refused); a file that is not a text table fails with the path and what is expected.
    """
    p = Path(path)
    if not p.exists():
        raise MinNetInputError(
            f"annotation file {str(p)!r} does not exist; pass an existing TSV/CSV path or a "
            "pandas DataFrame."
        )
    if not p.is_file():
        kind = "a directory" if p.is_dir() else "not a regular file"
        raise MinNetInputError(
            f"annotation path {str(p)!r} is {kind}; pass the gene annotation table itself, "
            f"{_ANNOTATION_FILE}, or a pandas DataFrame."
        )
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz", ".zip"):
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    try:
        if ext == ".csv":
            return pd.read_csv(p, sep=",")
        if ext in (".tsv", ".txt", ".tab"):
            return pd.read_csv(p, sep="\t")
        return pd.read_csv(p, sep=None, engine="python")
    # binary files (h5ad, a gzip without .gz), empty or ragged files, broken archives
    except (ValueError, OSError, EOFError, csv.Error, lzma.LZMAError, zipfile.BadZipFile) as err:
        raise MinNetInputError(
            f"annotation file {str(p)!r} could not be read as a table ({type(err).__name__}: "
            f"{str(err)[:200]}); pass {_ANNOTATION_FILE}, or a pandas DataFrame."
        ) from err


def check_bp(value: object, name: str) -> int:
    """A non-negative number of base pairs, at most :data:`MAX_POSITION` (no int64 overflow).

    Raises
    ------
    MinNetInputError
        If ``value`` is not a non-negative integer (integer-valued floats are accepted) or is
        larger than any chromosome.
    """
    bp = check_int(value, name, 0, allow_float=True)
    if bp > MAX_POSITION:
        raise MinNetInputError(
            f"{name}={value!r} bp is larger than any chromosome (at most {MAX_POSITION}); pass a "
            "distance in base pairs, e.g. 2000."
        )
    return bp


def _to_int_column(values: pd.Series, column: str, genes: pd.Series | None = None
                   ) -> np.ndarray:
    """Convert a column to int64, requiring integer positions in ``[0, MAX_POSITION]``.

    ``genes`` (the rows' gene names) makes the messages name the offending genes.
    """
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() & values.notna()
    if bad.any():
        raise MinNetInputError(
            f"annotation column {column!r} has non-numeric values, e.g. "
            f"{values[bad].astype(str).tolist()[:5]}; it must hold integer positions."
        )
    arr = num.to_numpy(dtype=np.float64)

    def examples(mask: np.ndarray) -> str:
        vals = [f"{v:.15g}" for v in arr[mask][:5]]
        if genes is None:
            return str(vals)
        return ", ".join(f"{g} ({v})" for g, v in zip(genes[mask][:5], vals, strict=False))

    # checked on floats, before the cast: 1e19 would wrap to a negative int64
    too_big = ~(arr <= MAX_POSITION)
    if too_big.any():
        raise MinNetInputError(
            f"annotation column {column!r} has {int(too_big.sum())} position(s) beyond any "
            f"chromosome (> {MAX_POSITION}), e.g. {examples(too_big)}; fix or drop those rows "
            "(a unit or parsing error?)."
        )
    if np.any(arr != np.round(arr)):
        raise MinNetInputError(
            f"annotation column {column!r} has non-integer values, e.g. "
            f"{examples(arr != np.round(arr))}; it must hold integer 1-based positions."
        )
    if np.any(arr < 0):
        raise MinNetInputError(
            f"annotation column {column!r} has negative values, e.g. "
            f"{examples(arr < 0)}; positions must be >= 0."
        )
    return arr.astype(np.int64)


def read_annotation(annotation: pd.DataFrame | str | os.PathLike) -> pd.DataFrame:
    """Read and validate a gene annotation (one TSS per gene).

    Parameters
    ----------
    annotation
        A DataFrame or a path to a table (``.tsv``/``.txt`` tab-separated, ``.csv``
        comma-separated, optionally compressed, e.g. ``.tsv.gz``; other extensions are sniffed).
        Required columns: ``gene_name``, ``chrom``, ``tss`` (1-based), ``strand`` (``'+'``/
        ``'-'``, or ``1``/``-1``). Optional: ``end`` (the other end of the gene body; either
        order relative to ``tss`` is accepted), ``gene_id``, ``biotype``; other columns are
        kept.

    Returns
    -------
    pandas.DataFrame
        A new validated table with a fresh ``RangeIndex``: ``gene_name`` and ``chrom`` as str,
        ``tss`` (and ``end`` when present) as int64, ``strand`` in ``{'+', '-'}``. Rows with a
        missing ``gene_name``, ``chrom`` or ``tss`` are dropped (logged); for duplicated gene
        names the first row is kept (logged); a missing ``end`` is set to ``tss`` (no gene
        body). The input is never modified.

    Raises
    ------
    MinNetInputError
        If required columns are missing, strands are invalid, positions are not non-negative
        integers, or no valid row remains.
    """
    df = _annotation_table(annotation)
    check_columns(
        df, _REQUIRED_ANNOTATION, "annotation", qualifier="required",
        hint=f"Required: {list(_REQUIRED_ANNOTATION)}; optional: ['end', 'gene_id', 'biotype']. "
        "Rename the columns accordingly.",
    )
    df = _drop_incomplete_rows(df.reset_index(drop=True))
    df["gene_name"] = df["gene_name"].astype(str)
    df["chrom"] = df["chrom"].astype(str)
    df["tss"] = _to_int_column(df["tss"], "tss", df["gene_name"])
    df["strand"] = _strand_column(df["strand"])
    if "end" in df.columns:
        df["end"] = _end_column(df["end"], df["tss"], df["gene_name"])
    df = _drop_duplicate_genes(df)
    first = ("gene_name", "chrom", "tss", "strand", "end", "gene_id", "biotype")
    order = [c for c in first if c in df.columns]
    rest = [c for c in df.columns if c not in order]
    return df[order + rest].reset_index(drop=True)


def _annotation_table(annotation: pd.DataFrame | str | os.PathLike) -> pd.DataFrame:
    """A new DataFrame from a DataFrame or a table file, with string column names."""
    if isinstance(annotation, pd.DataFrame):
        df = annotation.copy()
    elif isinstance(annotation, str | os.PathLike):
        df = _read_table(annotation)
    else:
        raise MinNetInputError(
            f"annotation must be a pandas DataFrame or a path to a TSV/CSV file, got "
            f"{type(annotation).__name__}."
        )
    df.columns = [str(c) for c in df.columns]
    return df


def _drop_incomplete_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows with a gene_name, chrom and tss (the others are dropped, logged); error if none."""
    incomplete = df["gene_name"].isna() | df["chrom"].isna() | df["tss"].isna()
    if incomplete.any():
        logger.warning(
            "read_annotation: dropping %d row(s) with a missing gene_name, chrom or tss.",
            int(incomplete.sum()),
        )
        df = df.loc[~incomplete].reset_index(drop=True)
    if len(df) == 0:
        raise MinNetInputError(
            "annotation has no usable rows (every row lacks gene_name, chrom or tss)."
        )
    return df


def _strand_column(values: pd.Series) -> pd.Series:
    """Strands as ``'+'``/``'-'`` (from ``+``/``-``, ``1``/``-1``); error naming invalid ones."""
    strand_str = values.astype(str).str.strip()
    strand = strand_str.map(_STRAND_MAP)
    bad_strand = strand.isna()
    if bad_strand.any():
        bad_vals = pd.unique(strand_str[bad_strand])[:5].tolist()
        raise MinNetInputError(
            f"annotation column 'strand' has {int(bad_strand.sum())} invalid value(s), e.g. "
            f"{bad_vals}; use '+'/'-' (or 1/-1)."
        )
    return strand.astype(object)


def _end_column(end: pd.Series, tss: pd.Series, genes: pd.Series) -> np.ndarray:
    """Gene-body ends as int64; a missing end becomes the TSS (no gene body, logged)."""
    no_end = end.isna()
    if no_end.any():
        logger.warning(
            "read_annotation: %d gene(s) have no 'end'; their gene body is ignored.",
            int(no_end.sum()),
        )
    return _to_int_column(end.where(~no_end, tss), "end", genes)


def _drop_duplicate_genes(df: pd.DataFrame) -> pd.DataFrame:
    """The first row of each gene name (later duplicates are dropped, logged)."""
    dup = df["gene_name"].duplicated(keep="first")
    if dup.any():
        # rows of one name on different chromosomes (PAR genes on chrX and chrY, or a table
        # mixing assemblies) are named: their activity comes from the first row's place only
        first_chrom = df.loc[~dup].set_index("gene_name")["chrom"]
        moved = df.loc[dup & (df["chrom"] != df["gene_name"].map(first_chrom)), "gene_name"]
        logger.warning(
            "read_annotation: %d duplicated gene_name row(s) (e.g. %s); keeping the first "
            "occurrence of each gene%s.",
            int(dup.sum()),
            pd.unique(df.loc[dup, "gene_name"])[:5].tolist(),
            "" if moved.empty else (f"; {moved.nunique()} of them also lie on another "
                                    f"chromosome (e.g. {pd.unique(moved)[:5].tolist()}), "
                                    "which is ignored"),
        )
        df = df.loc[~dup].reset_index(drop=True)
    return df


# --------------------------------------------------------------------------------------------
# Chromosome naming
# --------------------------------------------------------------------------------------------
def _canonical_chrom(name: str) -> str:
    """Naming-independent key: 'chr1'/'1' -> '1', 'chrM'/'chrMT'/'M'/'MT' -> 'MT'."""
    s = str(name).strip()
    if s[:3].lower() == "chr":
        s = s[3:]
    up = s.upper()
    if up in ("M", "MT"):
        return "MT"
    if up in ("X", "Y"):
        return up
    return s


def harmonize_chromosomes(
    query_chroms: Iterable[str], reference_chroms: Iterable[str]
) -> dict[str, str]:
    """Map chromosome names of one naming style onto another.

    ``'chr1'`` matches ``'1'``, ``'chrX'`` matches ``'X'`` and ``'chrM'``, ``'chrMT'``, ``'M'``
    and ``'MT'`` all match one another. Identical names always match each other.

    Parameters
    ----------
    query_chroms
        Chromosome names to translate (duplicates allowed).
    reference_chroms
        Chromosome names of the target naming.

    Returns
    -------
    dict[str, str]
        ``{query_name: reference_name}`` for every query name with a counterpart in the
        reference (identical names map to themselves). Query names without a counterpart are
        absent. If several reference names match, the first one in reference order wins.
    """
    ref = [str(c) for c in pd.unique(pd.Series(list(reference_chroms), dtype=object))]
    ref_set = set(ref)
    by_key: dict[str, str] = {}
    for r in ref:
        by_key.setdefault(_canonical_chrom(r), r)
    mapping: dict[str, str] = {}
    for q in pd.unique(pd.Series(list(query_chroms), dtype=object)):
        q = str(q)
        if q in ref_set:
            mapping[q] = q
        else:
            hit = by_key.get(_canonical_chrom(q))
            if hit is not None:
                mapping[q] = hit
    return mapping


def _chrom_codes(
    peak_chroms: np.ndarray, other_chroms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Integer chromosome codes for peaks and for another table, in the peaks' naming.

    Codes of ``other_chroms`` without a counterpart among the peaks are -1.
    """
    peak_cat = pd.Categorical(np.asarray(peak_chroms, dtype=object).astype(str))
    peak_codes = peak_cat.codes.astype(np.int64)
    mapping = harmonize_chromosomes(other_chroms, peak_cat.categories)
    other = pd.Series(np.asarray(other_chroms, dtype=object).astype(str)).map(mapping)
    other_codes = pd.Categorical(other, categories=peak_cat.categories).codes.astype(np.int64)
    return peak_codes, other_codes


def _seen(chroms: Iterable[str], n: int = 8) -> list[str]:
    """The first ``n`` distinct chromosome names, for messages."""
    return [str(c) for c in pd.unique(pd.Series(list(chroms), dtype=object))[:n]]


def _naming_hint(peak_chroms: Iterable[str], gene_chroms: Iterable[str]) -> str:
    """The sentence that shows both chromosome namings when nothing overlaps."""
    return (
        f"Chromosome names seen: peaks {_seen(peak_chroms)}, annotation {_seen(gene_chroms)}. "
        "Check that both use the same genome assembly and chromosome naming ('chr1' and '1' "
        "are reconciled automatically)."
    )


def _expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[lo[i], hi[i])`` return (owner i, position) for every covered position."""
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
    if total == 0:
        return owner, np.zeros(0, dtype=np.int64)
    first = np.cumsum(counts) - counts
    pos = np.arange(total, dtype=np.int64) - np.repeat(first, counts) + np.repeat(lo, counts)
    return owner, pos


def _keys(codes: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """One sortable int64 key per (chromosome code, position)."""
    pos = np.clip(np.asarray(pos, dtype=np.int64), 0, _BIG - 1)
    return codes.astype(np.int64) * _BIG + pos


# --------------------------------------------------------------------------------------------
# Peak-gene proximity
# --------------------------------------------------------------------------------------------
def peaks_near_genes(peaks: pd.DataFrame, annotation: pd.DataFrame, distance: int) -> pd.DataFrame:
    """Find, for each gene, the peaks whose midpoint lies within ``distance`` bp of its TSS.

    A pair is reported when ``abs((start + end) // 2 - tss) <= distance``, so a peak whose
    midpoint is exactly ``distance`` bp away is included and one at ``distance + 1`` is not.

    Parameters
    ----------
    peaks
        Peak table with columns ``chrom``, ``start``, ``end`` (as returned by
        :func:`parse_peak_names`); its index holds the peak names.
    annotation
        Gene table with columns ``gene_name``, ``chrom``, ``tss`` (e.g. from
        :func:`read_annotation`). Chromosome naming is reconciled with the peaks via
        :func:`harmonize_chromosomes`.
    distance
        Maximum absolute distance in bp (>= 0) between the peak midpoint and the TSS.

    Returns
    -------
    pandas.DataFrame
        One row per (gene, peak) pair, sorted by ``gene_idx`` then ``peak_idx``, with columns
        ``gene`` (gene name), ``peak`` (peak name), ``distance`` (peak midpoint - TSS, signed
        int64, not strand-aware), ``gene_idx`` and ``peak_idx`` (row positions in
        ``annotation`` and ``peaks``).

    Raises
    ------
    MinNetInputError
        If ``distance`` is negative, a column is missing, or no pair is found at all (the
        message shows the chromosome names seen on each side).
    """
    distance = check_bp(distance, "distance")
    check_columns(peaks, ("chrom", "start", "end"), "peaks")
    check_columns(annotation, ("gene_name", "chrom", "tss"), "annotation")
    if annotation["tss"].isna().any():
        raise MinNetInputError(
            "annotation has missing tss values; validate it with read_annotation() first."
        )

    p_start = peaks["start"].to_numpy(dtype=np.int64)
    p_end = peaks["end"].to_numpy(dtype=np.int64)
    mid = (p_start + p_end) // 2
    tss = annotation["tss"].to_numpy(dtype=np.int64)
    p_codes, g_codes = _chrom_codes(
        peaks["chrom"].to_numpy(dtype=object), annotation["chrom"].to_numpy(dtype=object)
    )

    mid_keys = _keys(p_codes, mid)
    order = np.argsort(mid_keys, kind="stable")
    mid_sorted = mid_keys[order]

    valid = np.flatnonzero(g_codes >= 0)
    lo = np.searchsorted(mid_sorted, _keys(g_codes[valid], tss[valid] - distance), side="left")
    hi = np.searchsorted(mid_sorted, _keys(g_codes[valid], tss[valid] + distance), side="right")
    owner, pos = _expand_ranges(lo, hi)
    gene_idx = valid[owner]
    peak_idx = order[pos]
    if gene_idx.size == 0:
        raise MinNetInputError(
            f"no peak midpoint lies within {distance} bp of any gene TSS. "
            + _naming_hint(peaks["chrom"], annotation["chrom"])
        )
    srt = np.lexsort((peak_idx, gene_idx))
    gene_idx, peak_idx = gene_idx[srt], peak_idx[srt]
    return pd.DataFrame(
        {
            "gene": annotation["gene_name"].to_numpy(dtype=object)[gene_idx],
            "peak": np.asarray(peaks.index, dtype=object)[peak_idx],
            "distance": (mid[peak_idx] - tss[gene_idx]).astype(np.int64),
            "gene_idx": gene_idx.astype(np.int64),
            "peak_idx": peak_idx.astype(np.int64),
        }
    )


def gene_windows(
    annotation: pd.DataFrame, upstream: int = 2000, gene_body: bool = True
) -> pd.DataFrame:
    """Per-gene regulatory windows (promoter, optionally plus gene body) for gene activity.

    The promoter is ``[tss - upstream, tss]`` on ``'+'`` and ``[tss, tss + upstream]`` on
    ``'-'``. With ``gene_body`` and an ``end`` column, the gene body ``[min(tss, end),
    max(tss, end)]`` is added; both contain the TSS, so their union is one interval.

    Parameters
    ----------
    annotation
        Validated annotation (see :func:`read_annotation`).
    upstream
        Promoter length in bp upstream of the TSS (>= 0).
    gene_body
        Whether to include the gene body (ignored when there is no ``end`` column).

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom``, ``start``, ``end`` (1-based closed, ``start`` clipped at 0), one row
        per annotation row, same index.
    """
    upstream = check_bp(upstream, "upstream")
    tss = annotation["tss"].to_numpy(dtype=np.int64)
    minus = annotation["strand"].to_numpy(dtype=object) == "-"
    start = np.where(minus, tss, tss - upstream)
    end = np.where(minus, tss + upstream, tss)
    if gene_body and "end" in annotation.columns:
        other = annotation["end"].to_numpy(dtype=np.int64)
        start = np.minimum(start, np.minimum(tss, other))
        end = np.maximum(end, np.maximum(tss, other))
    return pd.DataFrame(
        {
            "chrom": annotation["chrom"].to_numpy(dtype=object),
            "start": np.maximum(start, 0),
            "end": end,
        },
        index=annotation.index,
    )


def overlap_windows(peaks: pd.DataFrame, windows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """All (window, peak) pairs whose closed intervals overlap (touching counts).

    A peak ``[s, e]`` overlaps a window ``[a, b]`` on the same (reconciled) chromosome when
    ``s <= b`` and ``e >= a``. Peaks are sorted by start; a running maximum of their ends gives
    the first candidate per window and :func:`numpy.searchsorted` the last, so the work is
    proportional to the number of candidate pairs, not windows x peaks.

    Parameters
    ----------
    peaks
        Columns ``chrom``, ``start``, ``end``.
    windows
        Columns ``chrom``, ``start``, ``end``; chromosome naming is reconciled with the peaks.

    Returns
    -------
    tuple of numpy.ndarray
        ``(window_idx, peak_idx)``: int64 row positions of each overlapping pair, sorted by
        window then peak position.
    """
    check_columns(peaks, ("chrom", "start", "end"), "peaks")
    check_columns(windows, ("chrom", "start", "end"), "windows")
    p_codes, w_codes = _chrom_codes(
        peaks["chrom"].to_numpy(dtype=object), windows["chrom"].to_numpy(dtype=object)
    )
    ps = _keys(p_codes, peaks["start"].to_numpy(dtype=np.int64))
    pe = _keys(p_codes, peaks["end"].to_numpy(dtype=np.int64))
    order = np.argsort(ps, kind="stable")
    ps_s, pe_s = ps[order], pe[order]
    run_max_end = np.maximum.accumulate(pe_s) if pe_s.size else pe_s

    valid = np.flatnonzero(w_codes >= 0)
    w_start = _keys(w_codes[valid], windows["start"].to_numpy(dtype=np.int64)[valid])
    w_end = _keys(w_codes[valid], windows["end"].to_numpy(dtype=np.int64)[valid])
    # Before `lo` every peak ends before the window starts; from `hi` on every peak starts after.
    lo = np.searchsorted(run_max_end, w_start, side="left")
    hi = np.searchsorted(ps_s, w_end, side="right")
    owner, pos = _expand_ranges(lo, hi)
    keep = pe_s[pos] >= w_start[owner]
    window_idx = valid[owner[keep]]
    peak_idx = order[pos[keep]]
    srt = np.lexsort((peak_idx, window_idx))
    return window_idx[srt].astype(np.int64), peak_idx[srt].astype(np.int64)


def window_gaps(
    peaks: pd.DataFrame, windows: pd.DataFrame, window_idx: np.ndarray, peak_idx: np.ndarray
) -> np.ndarray:
    """Base pairs between each (window, peak) pair's intervals; 0 where they overlap.

    Parameters
    ----------
    peaks, windows
        Columns ``start`` and ``end`` (closed intervals on the same chromosome per pair).
    window_idx, peak_idx
        Row positions of the pairs, e.g. from :func:`overlap_windows` on widened windows.

    Returns
    -------
    numpy.ndarray
        int64 gaps, ``max(0, window start - peak end, peak start - window end)``.
    """
    w_start = windows["start"].to_numpy(dtype=np.int64)[window_idx]
    w_end = windows["end"].to_numpy(dtype=np.int64)[window_idx]
    p_start = peaks["start"].to_numpy(dtype=np.int64)[peak_idx]
    p_end = peaks["end"].to_numpy(dtype=np.int64)[peak_idx]
    return np.maximum(0, np.maximum(w_start - p_end, p_start - w_end))


# --------------------------------------------------------------------------------------------
# Peak-set mapping (query ATAC peaks called separately -> a trained model's peaks)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeakMapping:
    """How query peaks map onto model peaks (see :func:`map_peaks`).

    Attributes
    ----------
    matrix
        float32 CSR matrix, query peaks x model peaks, 1.0 where a query peak overlaps a
        model peak by at least ``min_overlap`` bp, 0 elsewhere.
    model_peaks_covered
        Fraction of model peaks overlapped by at least one query peak (0.0 without model
        peaks).
    query_peaks_used
        Fraction of query peaks overlapping at least one model peak (0.0 without query peaks).
    identical
        True when the query names equal the model's names in the same order; ``matrix`` is
        then the identity.
    """

    matrix: sp.csr_matrix
    model_peaks_covered: float
    query_peaks_used: float
    identical: bool


def _parse_named(names: Sequence[str], what: str) -> pd.DataFrame:
    """:func:`parse_peak_names`, with the message saying which peak set is malformed."""
    try:
        return parse_peak_names(names)
    except MinNetInputError as err:
        raise MinNetInputError(f"{what}: {err}") from err


def _peak_overlaps(
    query: pd.DataFrame, model: pd.DataFrame, min_overlap: int
) -> tuple[np.ndarray, np.ndarray]:
    """All (query, model) row pairs whose closed intervals share ``>= min_overlap`` bases.

    Two closed intervals on one chromosome overlap exactly when one starts inside the other:
    either the query starts in ``[model start, model end]`` or the model starts in
    ``(query start, query end]``. The two cases are disjoint, and each is a range of sorted
    starts found with :func:`numpy.searchsorted`, so every candidate is a true overlap and the
    work is O((n + m) log(n + m) + overlaps) whatever the peak lengths.
    """
    m_codes, q_codes = _chrom_codes(
        model["chrom"].to_numpy(dtype=object), query["chrom"].to_numpy(dtype=object)
    )
    q_valid = np.flatnonzero(q_codes >= 0)
    q_start = query["start"].to_numpy(dtype=np.int64)
    q_end = query["end"].to_numpy(dtype=np.int64)
    m_start = model["start"].to_numpy(dtype=np.int64)
    m_end = model["end"].to_numpy(dtype=np.int64)
    qs = _keys(q_codes[q_valid], q_start[q_valid])
    qe = _keys(q_codes[q_valid], q_end[q_valid])
    ms = _keys(m_codes, m_start)
    me = _keys(m_codes, m_end)

    # case A: the query starts inside the model peak, query start in [model start, model end]
    q_order = np.argsort(qs, kind="stable")
    qs_sorted = qs[q_order]
    lo = np.searchsorted(qs_sorted, ms, side="left")
    hi = np.searchsorted(qs_sorted, me, side="right")
    m_a, pos = _expand_ranges(lo, hi)
    q_a = q_valid[q_order[pos]]

    # case B: the model peak starts strictly after the query start and at most at its end
    m_order = np.argsort(ms, kind="stable")
    ms_sorted = ms[m_order]
    lo = np.searchsorted(ms_sorted, qs, side="right")
    hi = np.searchsorted(ms_sorted, qe, side="right")
    owner, pos = _expand_ranges(lo, hi)
    q_b = q_valid[owner]
    m_b = m_order[pos]

    q_idx = np.concatenate([q_a, q_b])
    m_idx = np.concatenate([m_a, m_b])
    if min_overlap > 1:
        shared = (np.minimum(q_end[q_idx], m_end[m_idx])
                  - np.maximum(q_start[q_idx], m_start[m_idx]) + 1)
        keep = shared >= min_overlap
        q_idx, m_idx = q_idx[keep], m_idx[keep]
    return q_idx, m_idx


def map_peaks(
    query_peaks: Sequence[str], model_peaks: Sequence[str], min_overlap: int = 1
) -> PeakMapping:
    """Map ATAC peaks of one peak calling (the query) onto another peak set (a model's peaks).

    Used to embed query ATAC data whose peaks were called separately from the peaks a model
    was trained on: ``counts @ mapping.matrix`` (see :func:`mapped_counts`) gives the query's
    counts on the model's peaks.

    * A query peak overlapping several model peaks (a merged or longer peak) maps with weight
      1 to each of them, so its counts are copied to each.
    * Several query peaks overlapping one model peak (split peaks) all map to it, so their
      counts add up.
    * Shifted peaks map as long as they still overlap.

    Coordinates follow the module convention: peaks are **1-based closed** intervals, so
    ``chr1-100-200`` and ``chr1-200-300`` share one base (base 200) and overlap with
    ``min_overlap=1``, while ``chr1-100-200`` and ``chr1-201-300`` are adjacent and share none.
    The number of shared bases is ``min(end1, end2) - max(start1, start2) + 1``. Chromosome
    naming is reconciled as in :func:`harmonize_chromosomes` (``'chr1'`` = ``'1'``,
    ``'chrM'`` = ``'MT'``).

    Parameters
    ----------
    query_peaks
        Peak names of the query data (its ``var_names``), in any format accepted by
        :func:`parse_peak_names`; duplicates are allowed and each maps on its own.
    model_peaks
        Peak names the model was trained on, in any accepted format.
    min_overlap
        Minimum number of shared bases (>= 1) for a query peak to map to a model peak.

    Returns
    -------
    PeakMapping
        The query x model float32 CSR matrix (sorted indices) and the coverage fractions.
        When the query names equal the model's names in the same order the identity is
        returned without parsing or overlapping the names (``identical=True``, both fractions
        1.0); ``min_overlap`` is then not applied, and a peak never maps onto another model
        peak it overlaps.

    Raises
    ------
    MinNetInputError
        If ``min_overlap`` is not an integer >= 1, or a peak name does not parse (the message
        says which peak set and names up to five offending peaks).

    Notes
    -----
    Time and memory are O((n + m) log(n + m) + number of overlapping pairs); no query x model
    dense array is built.
    """
    min_overlap = check_bp(min_overlap, "min_overlap")
    if min_overlap < 1:
        raise MinNetInputError(
            f"min_overlap must be an integer >= 1 (shared bases), got {min_overlap!r}; use 1 "
            "to map peaks that share any base."
        )
    query_index = pd.Index(query_peaks)
    model_index = pd.Index(model_peaks)
    n_query, n_model = len(query_index), len(model_index)
    if n_query == n_model and query_index.equals(model_index):
        frac = 1.0 if n_query else 0.0
        return PeakMapping(sp.identity(n_query, dtype=np.float32, format="csr"),
                           frac, frac, True)

    query = _parse_named(query_index, "query_peaks")
    model = _parse_named(model_index, "model_peaks")
    q_idx, m_idx = _peak_overlaps(query, model, min_overlap)
    order = np.lexsort((m_idx, q_idx))
    q_idx, m_idx = q_idx[order], m_idx[order]
    indptr = np.zeros(n_query + 1, dtype=np.int64)
    np.cumsum(np.bincount(q_idx, minlength=n_query), out=indptr[1:])
    matrix = sp.csr_matrix(
        (np.ones(q_idx.size, dtype=np.float32), m_idx, indptr), shape=(n_query, n_model)
    )
    matrix.has_sorted_indices = True
    used = np.unique(q_idx).size / n_query if n_query else 0.0
    covered = np.unique(m_idx).size / n_model if n_model else 0.0
    return PeakMapping(matrix, float(covered), float(used), False)


def mapped_counts(counts: sp.spmatrix | np.ndarray, mapping: PeakMapping
                  ) -> tuple[sp.csr_matrix, float]:
    """Query counts (cells x query peaks) moved onto the model's peaks.

    Parameters
    ----------
    counts
        Cells x query peaks counts, dense or sparse (any SciPy format), finite and
        non-negative; columns in the order of the ``query_peaks`` given to :func:`map_peaks`.
    mapping
        The result of :func:`map_peaks`.

    Returns
    -------
    tuple
        ``(mapped, fraction)``: ``mapped`` is a new cells x model peaks float32 CSR matrix,
        ``counts @ mapping.matrix`` (a query peak spanning several model peaks adds its counts
        to each of them); ``fraction`` is the share of the query's total counts that lie on
        query peaks overlapping some model peak (1.0 for an identical mapping, 0.0 when
        ``counts`` sums to zero).

    Raises
    ------
    MinNetInputError
        If ``counts`` is not 2-D with one column per query peak, or holds negative, NaN or
        infinite values.
    """
    n_query = mapping.matrix.shape[0]
    shape = np.shape(counts)
    if len(shape) != 2 or shape[1] != n_query:
        raise MinNetInputError(
            f"counts has shape {shape} but the peak mapping has {n_query} query peaks; pass "
            "the cells x query peaks matrix whose columns are the peaks given to map_peaks()."
        )
    x = to_csr_float32(counts)
    check_counts(x, "counts", expected="peak counts",
                 fix="pass raw ATAC counts (cells x query peaks)")
    per_peak = np.asarray(x.sum(axis=0, dtype=np.float64)).ravel()
    total = float(per_peak.sum())
    if mapping.identical:
        return x, (1.0 if total > 0 else 0.0)
    used = np.diff(mapping.matrix.indptr) > 0
    fraction = float(per_peak[used].sum() / total) if total > 0 else 0.0
    mapped = sp.csr_matrix(x @ mapping.matrix, dtype=np.float32)
    mapped.sort_indices()
    return mapped, fraction
