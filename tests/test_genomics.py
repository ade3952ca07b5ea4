"""Tests for minnet.genomics: peak names, annotation, chromosome naming, proximity."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from minnet._utils import MinNetInputError
from minnet.genomics import (
    gene_windows,
    harmonize_chromosomes,
    map_peaks,
    mapped_counts,
    overlap_windows,
    parse_peak_names,
    peaks_near_genes,
    read_annotation,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# ------------------------------------------------------------------------------ parse_peak_names
@pytest.mark.parametrize(
    ("name", "chrom", "start", "end"),
    [
        ("chr1-100-200", "chr1", 100, 200),
        ("chr1:100-200", "chr1", 100, 200),
        ("chr1_100_200", "chr1", 100, 200),
        ("1-100-200", "1", 100, 200),
        ("chrUn_KI270728v1-100-200", "chrUn_KI270728v1", 100, 200),
        ("chrUn_KI270728v1_100_200", "chrUn_KI270728v1", 100, 200),
        ("chr1_KI270706v1_random:5-5", "chr1_KI270706v1_random", 5, 5),
        ("HLA-A*01:01-3-40", "HLA-A*01:01", 3, 40),
        ("GL000194.1-1000-2000", "GL000194.1", 1000, 2000),
    ],
)
def test_parse_peak_names_formats(name, chrom, start, end):
    df = parse_peak_names([name])
    assert list(df.columns) == ["chrom", "start", "end"]
    assert df.index.tolist() == [name]
    assert df["chrom"].iloc[0] == chrom
    assert df["start"].iloc[0] == start
    assert df["end"].iloc[0] == end
    assert df["start"].dtype == np.int64
    assert df["end"].dtype == np.int64


def test_parse_peak_names_keeps_order_and_index():
    names = pd.Index(["chrX-5-10", "chr2:1-3", "3_7_9"])
    df = parse_peak_names(names)
    assert df.index.equals(names)
    assert df["chrom"].tolist() == ["chrX", "chr2", "3"]
    assert df["start"].tolist() == [5, 1, 7]
    assert df["end"].tolist() == [10, 3, 9]


@pytest.mark.parametrize("bad", ["chr1-100", "peak_1", "chr1-abc-200", "-100-200", "chr1-1e3-2e3"])
def test_parse_peak_names_bad_name(bad):
    with pytest.raises(MinNetInputError) as exc:
        parse_peak_names(["chr1-1-2", bad])
    msg = str(exc.value)
    assert repr(bad) in msg
    assert "chr1-100-200" in msg  # accepted formats listed
    assert "chr1-1-2" not in msg


def test_parse_peak_names_lists_at_most_five():
    bad = [f"bad{i}" for i in range(8)]
    with pytest.raises(MinNetInputError) as exc:
        parse_peak_names(bad)
    msg = str(exc.value)
    assert "8 peak name(s)" in msg
    assert "'bad4'" in msg and "'bad5'" not in msg


def test_parse_peak_names_start_after_end():
    with pytest.raises(MinNetInputError, match="start > end") as exc:
        parse_peak_names(["chr1-10-20", "chr1-300-200"])
    assert "chr1-300-200" in str(exc.value)


def test_parse_peak_names_empty():
    df = parse_peak_names([])
    assert len(df) == 0 and list(df.columns) == ["chrom", "start", "end"]


# ------------------------------------------------------------------------------- read_annotation
def _ann(**extra):
    base = {
        "gene_name": ["A", "B", "C"],
        "chrom": ["chr1", "chr1", "chr2"],
        "tss": [1000, 5000, 300],
        "strand": ["+", "-", "+"],
    }
    base.update(extra)
    return pd.DataFrame(base)


def test_read_annotation_missing_columns():
    df = _ann().drop(columns=["tss", "strand"])
    with pytest.raises(MinNetInputError) as exc:
        read_annotation(df)
    msg = str(exc.value)
    assert "['tss', 'strand']" in msg
    assert "gene_name" in msg and "chrom" in msg  # existing columns listed


def test_read_annotation_strand_conversion_and_not_modified():
    df = _ann(strand=[1, -1, 1])
    before = df.copy(deep=True)
    out = read_annotation(df)
    assert out["strand"].tolist() == ["+", "-", "+"]
    pd.testing.assert_frame_equal(df, before)
    assert out is not df
    out2 = read_annotation(_ann(strand=["1", "-1", "+"]))
    assert out2["strand"].tolist() == ["+", "-", "+"]


def test_read_annotation_bad_strand():
    with pytest.raises(MinNetInputError, match="strand") as exc:
        read_annotation(_ann(strand=["+", "x", "."]))
    assert "'x'" in str(exc.value)


def test_read_annotation_tss_checks():
    with pytest.raises(MinNetInputError, match="negative"):
        read_annotation(_ann(tss=[1, -5, 3]))
    with pytest.raises(MinNetInputError, match="non-integer"):
        read_annotation(_ann(tss=[1.5, 2, 3]))
    with pytest.raises(MinNetInputError, match="non-numeric"):
        read_annotation(_ann(tss=["1", "abc", "3"]))
    out = read_annotation(_ann(tss=[1.0, 2.0, 3.0]))
    assert out["tss"].dtype == np.int64 and out["tss"].tolist() == [1, 2, 3]


def test_read_annotation_drops_nan_and_duplicates(caplog):
    df = pd.DataFrame(
        {
            "gene_name": ["A", "B", "A", "C", "D", "B"],
            "chrom": ["chr1", None, "chr1", "chr2", "chr2", "chr3"],
            "tss": [10, 20, 30, np.nan, 50, 60],
            "strand": ["+", "+", "-", "+", "-", "+"],
        }
    )
    with caplog.at_level(logging.WARNING, logger="minnet"):
        out = read_annotation(df)
    # B(chr None) and C(tss NaN) dropped; duplicate A dropped; later B (chr3) kept as first B.
    assert out["gene_name"].tolist() == ["A", "D", "B"]
    assert out["tss"].tolist() == [10, 50, 60]
    assert out.index.equals(pd.RangeIndex(3))
    text = caplog.text
    assert "dropping 2 row(s)" in text
    assert "1 duplicated gene_name" in text


def test_read_annotation_end_and_column_order():
    df = _ann(end=[3000, 4000, np.nan], biotype=["pc", "pc", "lnc"], extra=[1, 2, 3])
    out = read_annotation(df)
    assert list(out.columns) == ["gene_name", "chrom", "tss", "strand", "end", "biotype", "extra"]
    assert out["end"].tolist() == [3000, 4000, 300]  # missing end -> tss (no gene body)
    assert out["end"].dtype == np.int64


def test_read_annotation_paths(tmp_path):
    df = _ann(gene_id=["g1", "g2", "g3"])
    df.to_csv(tmp_path / "a.tsv", sep="\t", index=False)
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_csv(tmp_path / "a.tsv.gz", sep="\t", index=False)
    df.to_csv(tmp_path / "a.annot", sep="\t", index=False)
    ref = read_annotation(df)
    for name in ("a.tsv", "a.csv", "a.tsv.gz", "a.annot"):
        out = read_annotation(tmp_path / name)
        pd.testing.assert_frame_equal(out, ref, check_dtype=False)
    out = read_annotation(str(tmp_path / "a.tsv"))
    assert out["gene_name"].tolist() == ["A", "B", "C"]
    with pytest.raises(MinNetInputError, match="does not exist"):
        read_annotation(tmp_path / "missing.tsv")
    with pytest.raises(MinNetInputError, match="DataFrame"):
        read_annotation(42)


def test_read_annotation_real_file():
    path = SHARED / "annotation" / "hg38_tss.tsv"
    if not path.exists():
        pytest.skip("shared annotation not available")
    raw = pd.read_csv(path, sep="\t")
    out = read_annotation(path)
    assert len(out) == raw["gene_name"].nunique()
    assert not out["gene_name"].duplicated().any()
    assert set(out["strand"]) == {"+", "-"}
    assert out["tss"].dtype == np.int64 and (out["tss"] > 0).all()
    assert {"gene_id", "biotype"} <= set(out.columns)


# ------------------------------------------------------------------------- harmonize_chromosomes
def test_harmonize_chr_prefix_both_directions():
    m = harmonize_chromosomes(
        ["1", "2", "X", "MT", "Y", "KI270728.1"], ["chr1", "chr2", "chrX", "chrM"]
    )
    assert m == {"1": "chr1", "2": "chr2", "X": "chrX", "MT": "chrM"}
    m = harmonize_chromosomes(["chr1", "chrX", "chrM", "chrMT", "chr22"], ["1", "X", "MT"])
    assert m == {"chr1": "1", "chrX": "X", "chrM": "MT", "chrMT": "MT"}
    m = harmonize_chromosomes(["chrM", "M"], ["chrMT"])
    assert m == {"chrM": "chrMT", "M": "chrMT"}


def test_harmonize_identity_and_duplicates():
    m = harmonize_chromosomes(["chr1", "chr1", "chr5"], ["chr1", "chr5", "1"])
    assert m == {"chr1": "chr1", "chr5": "chr5"}
    assert harmonize_chromosomes(["chr3"], ["chr1"]) == {}


# ------------------------------------------------------------------------------ peaks_near_genes
def _brute_near(peaks, ann, distance, peak_chrom_of_gene):
    out = set()
    for gi in range(len(ann)):
        gc = peak_chrom_of_gene(ann["chrom"].iloc[gi])
        for pi in range(len(peaks)):
            if peaks["chrom"].iloc[pi] != gc:
                continue
            mid = (peaks["start"].iloc[pi] + peaks["end"].iloc[pi]) // 2
            d = mid - ann["tss"].iloc[gi]
            if abs(d) <= distance:
                out.add((gi, pi, int(d)))
    return out


def _random_peaks_genes(rng, n_peaks=150, n_genes=40, gene_prefix=""):
    chroms = ["chr1", "chr2", "chrX"]
    pc = rng.choice(chroms, n_peaks)
    ps = rng.integers(0, 20_000, n_peaks)
    pe = ps + rng.integers(0, 800, n_peaks)
    names = [f"{c}-{s}-{e}" for c, s, e in zip(pc, ps, pe, strict=True)]
    peaks = parse_peak_names(names)
    gc = rng.choice(chroms + ["chr9"], n_genes)
    if gene_prefix == "":
        gc = np.array([c.replace("chr", "") for c in gc])
    ann = pd.DataFrame(
        {
            "gene_name": [f"g{i}" for i in range(n_genes)],
            "chrom": gc,
            "tss": rng.integers(0, 20_000, n_genes),
            "strand": rng.choice(["+", "-"], n_genes),
        }
    )
    ann["end"] = ann["tss"] + rng.integers(-3000, 3000, n_genes).clip(-ann["tss"].to_numpy())
    return peaks, ann


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("distance", [0, 500, 3000])
def test_peaks_near_genes_matches_brute_force(seed, distance):
    rng = np.random.default_rng(seed)
    peaks, ann = _random_peaks_genes(rng)  # annotation uses '1', peaks use 'chr1'
    # guarantee at least one exact hit (midpoint == TSS) so distance=0 is exercised too
    g = ann.loc[ann["chrom"] != "9"].iloc[0]
    exact = parse_peak_names([f"chr{g['chrom']}-{g['tss'] + 3}-{g['tss'] + 4}"])
    exact["start"] -= 6  # [tss - 3, tss + 4] -> midpoint tss (floor of tss + 0.5)
    peaks = pd.concat([peaks, exact])
    res = peaks_near_genes(peaks, ann, distance)
    expected = _brute_near(peaks, ann, distance, lambda c: "chr" + c)
    got = set(zip(res["gene_idx"], res["peak_idx"], res["distance"], strict=True))
    assert got == expected
    assert len(res) == len(expected)  # no duplicates
    assert res["distance"].dtype == np.int64
    assert (res["gene"].to_numpy() == ann["gene_name"].to_numpy()[res["gene_idx"]]).all()
    assert (res["peak"].to_numpy() == peaks.index.to_numpy()[res["peak_idx"]]).all()
    assert list(res.columns) == ["gene", "peak", "distance", "gene_idx", "peak_idx"]


def test_peaks_near_genes_window_boundary_by_midpoint():
    tss, d = 10_000, 100
    names = [
        f"chr1-{tss + d - 1}-{tss + d + 2}",  # mid = tss + d (floor of .5): included
        f"chr1-{tss - d}-{tss - d}",  # mid = tss - d: included
        f"chr1-{tss + d + 1}-{tss + d + 1}",  # mid = tss + d + 1: excluded
        f"chr1-{tss - d - 2}-{tss - d - 1}",  # mid = tss - d - 2 (floor): excluded
        f"chr1-{tss - 5000}-{tss + 5000}",  # wide peak, mid = tss: included
        f"chr2-{tss}-{tss}",  # other chromosome: excluded
    ]
    peaks = parse_peak_names(names)
    ann = pd.DataFrame({"gene_name": ["G"], "chrom": ["chr1"], "tss": [tss], "strand": ["-"]})
    res = peaks_near_genes(peaks, ann, d)
    assert res["peak_idx"].tolist() == [0, 1, 4]
    assert res["distance"].tolist() == [d, -d, 0]
    res = peaks_near_genes(peaks, ann, d + 1)
    assert res["peak_idx"].tolist() == [0, 1, 2, 4]


def test_peaks_near_genes_no_pair_names_chromosomes():
    peaks = parse_peak_names(["chr1-100-200", "chr2-100-200"])
    ann = pd.DataFrame({"gene_name": ["A"], "chrom": ["scaffold_7"], "tss": [150], "strand": ["+"]})
    with pytest.raises(MinNetInputError) as exc:
        peaks_near_genes(peaks, ann, 1000)
    msg = str(exc.value)
    assert "chr1" in msg and "scaffold_7" in msg
    with pytest.raises(MinNetInputError, match="non-negative"):
        peaks_near_genes(peaks, ann, -1)
    with pytest.raises(MinNetInputError, match="missing column"):
        peaks_near_genes(peaks.drop(columns="end"), ann, 10)


def test_peaks_near_genes_scales():
    rng = np.random.default_rng(0)
    n_peaks, n_genes = 100_000, 20_000
    chrom = rng.choice([f"chr{i}" for i in range(1, 23)], n_peaks)
    start = rng.integers(0, 50_000_000, n_peaks)
    peaks = pd.DataFrame({"chrom": chrom, "start": start, "end": start + 500})
    ann = pd.DataFrame(
        {
            "gene_name": [f"g{i}" for i in range(n_genes)],
            "chrom": rng.choice([str(i) for i in range(1, 23)], n_genes),
            "tss": rng.integers(0, 50_000_000, n_genes),
            "strand": "+",
        }
    )
    res = peaks_near_genes(peaks, ann, 50_000)
    assert len(res) > 0
    assert (res["distance"].abs() <= 50_000).all()


# ------------------------------------------------------------------------ windows and overlaps
def test_gene_windows_strand_aware():
    ann = pd.DataFrame(
        {
            "gene_name": ["P", "M", "R"],
            "chrom": ["chr1"] * 3,
            "tss": [5000, 5000, 100],
            "strand": ["+", "-", "+"],
            "end": [9000, 1000, 50],
        }
    )
    w = gene_windows(ann, upstream=2000, gene_body=False)
    assert w["start"].tolist() == [3000, 5000, 0]
    assert w["end"].tolist() == [5000, 7000, 100]
    w = gene_windows(ann, upstream=2000, gene_body=True)
    assert w["start"].tolist() == [3000, 1000, 0]
    assert w["end"].tolist() == [9000, 7000, 100]


@pytest.mark.parametrize("seed", [3, 4])
def test_overlap_windows_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    peaks, ann = _random_peaks_genes(rng, gene_prefix="chr")
    # add a few very long peaks to exercise the running-max lower bound
    extra = parse_peak_names(["chr1-50-15000", "chr2-7000-7000"])
    peaks = pd.concat([peaks, extra])
    wins = gene_windows(read_annotation(ann), upstream=700, gene_body=True)
    w_idx, p_idx = overlap_windows(peaks, wins)
    expected = set()
    for wi in range(len(wins)):
        for pi in range(len(peaks)):
            if (
                peaks["chrom"].iloc[pi] == wins["chrom"].iloc[wi]
                and peaks["start"].iloc[pi] <= wins["end"].iloc[wi]
                and peaks["end"].iloc[pi] >= wins["start"].iloc[wi]
            ):
                expected.add((wi, pi))
    got = list(zip(w_idx.tolist(), p_idx.tolist(), strict=True))
    assert set(got) == expected and len(got) == len(expected)
    assert got == sorted(got)


# ------------------------------------------------------------------ careless annotations (#14)
@pytest.mark.parametrize("bad", [1e19, 2.0**63, np.inf, 2**40])
def test_read_annotation_refuses_positions_beyond_any_chromosome(bad):
    df = _ann(tss=[1000.0, bad, 300.0])
    with pytest.raises(MinNetInputError, match="beyond any chromosome") as exc:
        read_annotation(df)
    assert "B (" in str(exc.value)  # the gene is named, not silently dropped
    with pytest.raises(MinNetInputError, match=r"column 'end' .* e.g. C \("):
        read_annotation(_ann(end=[2000, 6000, bad]))
    assert read_annotation(_ann(tss=[1000, 2**40 - 1, 300]))["tss"][1] == 2**40 - 1


def test_read_annotation_names_genes_with_bad_positions():
    with pytest.raises(MinNetInputError, match=r"negative values, e.g. B \(-5\)"):
        read_annotation(_ann(tss=[1, -5, 3]))


def test_read_annotation_refuses_paths_that_are_not_tables(tmp_path):
    with pytest.raises(MinNetInputError, match="is a directory; pass the gene annotation table"):
        read_annotation(tmp_path)
    (tmp_path / "zero.tsv").symlink_to("/dev/zero")  # would never stop reading
    with pytest.raises(MinNetInputError, match="is not a regular file"):
        read_annotation(tmp_path / "zero.tsv")
    binary = tmp_path / "rna.h5ad"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(MinNetInputError, match="could not be read as a table") as exc:
        read_annotation(binary)
    assert str(binary) in str(exc.value) and "gene_name, chrom, tss, strand" in str(exc.value)
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(MinNetInputError, match="could not be read as a table"):
        read_annotation(tmp_path / "empty.tsv")
    (tmp_path / "cut.tsv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(MinNetInputError, match="could not be read as a table"):
        read_annotation(tmp_path / "cut.tsv.gz")


def test_read_annotation_names_duplicates_on_other_chromosomes(caplog):
    df = _ann(gene_name=["A", "A", "B"], chrom=["chrX", "chrY", "chr2"])
    with caplog.at_level(logging.WARNING, logger="minnet"):
        out = read_annotation(df)
    assert out["chrom"].tolist() == ["chrX", "chr2"]  # documented: the first row is kept
    assert "1 of them also lie on another chromosome (e.g. ['A'])" in caplog.text


def test_base_pair_distances_are_bounded():
    from minnet.genomics import check_bp

    assert check_bp(2000.0, "upstream") == 2000
    with pytest.raises(MinNetInputError, match="larger than any chromosome"):
        check_bp(10**19, "upstream")
    with pytest.raises(MinNetInputError, match="distance"):
        peaks_near_genes(parse_peak_names(["chr1-1-10"]), read_annotation(_ann()), 2**62)


# ------------------------------------------------------------------------- map_peaks (query ATAC)
def _pairs(mapping):
    coo = mapping.matrix.tocoo()
    return sorted(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


def test_map_peaks_identical_names_is_identity():
    names = ["chr1-100-200", "chr1-150-250", "chr2-5-10"]  # two model peaks overlap each other
    m = map_peaks(names, list(names))
    assert m.identical
    assert m.model_peaks_covered == 1.0 and m.query_peaks_used == 1.0
    assert isinstance(m.matrix, sp.csr_matrix) and m.matrix.dtype == np.float32
    assert (m.matrix != sp.identity(3, format="csr")).nnz == 0
    # same peaks, another order: not the fast path, overlaps are computed
    other = map_peaks(names[::-1], names)
    assert not other.identical
    assert _pairs(other) == [(0, 2), (1, 0), (1, 1), (2, 0), (2, 1)]


def test_map_peaks_shifted_spanning_and_split():
    model = ["chr1-1000-1499", "chr1-1500-1999", "chr1-5000-5999"]
    query = [
        "chr1-1100-1600",  # spans model peaks 0 and 1
        "chr1-5000-5400",  # split halves of model peak 2 ...
        "chr1-5401-5999",
        "chr1-950-1050",  # shifted left of model peak 0, still overlapping
    ]
    m = map_peaks(query, model)
    assert not m.identical
    assert _pairs(m) == [(0, 0), (0, 1), (1, 2), (2, 2), (3, 0)]
    assert m.matrix.data.tolist() == [1.0] * 5
    assert m.matrix.shape == (4, 3)
    assert m.model_peaks_covered == 1.0 and m.query_peaks_used == 1.0
    counts = np.array([[1, 2, 3, 4], [10, 0, 5, 0]], dtype=np.float32)
    mapped, frac = mapped_counts(counts, m)
    # the spanning peak's counts go to both model peaks; the split halves add up
    np.testing.assert_array_equal(mapped.toarray(), [[1 + 4, 1, 2 + 3], [10, 10, 5]])
    assert frac == 1.0


def test_map_peaks_unmatched_peaks_lower_the_fractions():
    model = ["chr1-100-200", "chr1-1000-1100", "chr2-100-200", "chr3-1-50"]
    query = [
        "chr1-150-160",  # model 0
        "chr7-100-200",  # chromosome the model lacks
        "chr1-50000-50100",  # far away
        "chr2-190-300",  # model 2
        "chrUn_KI270728v1-100-200",  # contig the model lacks
    ]
    m = map_peaks(query, model)
    assert _pairs(m) == [(0, 0), (3, 2)]
    assert m.query_peaks_used == pytest.approx(2 / 5)
    assert m.model_peaks_covered == pytest.approx(2 / 4)
    counts = np.array([[3, 1, 0, 2, 4], [0, 5, 5, 1, 0]], dtype=np.int64)
    mapped, frac = mapped_counts(counts, m)
    # counts on used peaks (0 and 3): 3 + 2 + 0 + 1 = 6 of a total 21
    assert frac == pytest.approx(6 / 21)
    np.testing.assert_array_equal(mapped.toarray(), [[3, 0, 2, 0], [0, 0, 1, 0]])
    assert mapped.dtype == np.float32 and isinstance(mapped, sp.csr_matrix)


def test_map_peaks_reconciles_chromosome_naming_and_formats():
    model = ["chr1-100-200", "chrM-10-20", "chrX-5-9"]
    query = ["1:150-250", "MT_12_30", "X-1-4", "X-9-9"]
    m = map_peaks(query, model)
    assert _pairs(m) == [(0, 0), (1, 1), (3, 2)]
    # and the other way round
    back = map_peaks(model, query)
    assert _pairs(back) == [(0, 0), (1, 1), (2, 3)]


def test_map_peaks_interval_ends_are_closed_and_min_overlap():
    model = ["chr1-100-200"]
    query = ["chr1-200-300", "chr1-201-300", "chr1-1-99", "chr1-1-100", "chr1-191-209"]
    # closed intervals: 200-300 shares base 200, 1-100 shares base 100; adjacent ones share none
    assert _pairs(map_peaks(query, model)) == [(0, 0), (3, 0), (4, 0)]
    # query 4 shares bases 191..200 = 10 bp
    assert _pairs(map_peaks(query, model, min_overlap=10)) == [(4, 0)]
    assert _pairs(map_peaks(query, model, min_overlap=11)) == []
    # a model peak inside a longer query peak shares its whole length (101 bp)
    assert _pairs(map_peaks(["chr1-1-1000"], model, min_overlap=101)) == [(0, 0)]
    assert _pairs(map_peaks(["chr1-1-1000"], model, min_overlap=102)) == []
    for bad in (0, -1, 1.5, "1"):
        with pytest.raises(MinNetInputError, match="min_overlap"):
            map_peaks(query, model, min_overlap=bad)


def test_mapped_counts_input_formats_agree():
    rng = np.random.default_rng(0)
    model = [f"chr1-{s}-{s + 99}" for s in range(0, 3000, 150)]
    query = [f"chr{c}-{s}-{s + 250}" for c, s in zip(rng.choice([1, 2], 30),
                                                      rng.integers(0, 3000, 30), strict=True)]
    m = map_peaks(query, model)
    dense = rng.poisson(0.7, size=(12, 30)).astype(np.int32)
    results = [mapped_counts(x, m) for x in (dense, sp.csr_matrix(dense), sp.csc_matrix(dense),
                                              sp.coo_matrix(dense.astype(np.float64)))]
    expected = dense.astype(np.float64) @ m.matrix.toarray()
    used = m.matrix.getnnz(axis=1) > 0
    for mapped, frac in results:
        assert isinstance(mapped, sp.csr_matrix) and mapped.dtype == np.float32
        np.testing.assert_array_equal(mapped.toarray(), expected)
        assert frac == pytest.approx(dense[:, used].sum() / dense.sum())
    assert 0 < results[0][1] < 1
    with pytest.raises(MinNetInputError, match="query peaks"):
        mapped_counts(dense[:, :-1], m)
    with pytest.raises(MinNetInputError, match="negative"):
        mapped_counts(-dense, m)
    # identical mapping: the counts come back unchanged (as a new float32 CSR)
    same = map_peaks(query, list(query))
    mapped, frac = mapped_counts(dense, same)
    np.testing.assert_array_equal(mapped.toarray(), dense)
    assert frac == 1.0
    assert mapped_counts(np.zeros((2, 30)), m)[1] == 0.0


def test_map_peaks_names_malformed_peaks():
    with pytest.raises(MinNetInputError, match=r"query_peaks: .*'peak_7'"):
        map_peaks(["chr1-1-10", "peak_7"], ["chr1-1-10"])
    with pytest.raises(MinNetInputError, match=r"model_peaks: .*'chr1-10-5'"):
        map_peaks(["chr1-1-10"], ["chr1-10-5", "chr1-1-10"])


def test_map_peaks_empty_sets():
    m = map_peaks([], ["chr1-1-10"])
    assert m.matrix.shape == (0, 1) and m.query_peaks_used == 0.0
    assert m.model_peaks_covered == 0.0
    m = map_peaks(["chr1-1-10"], [])
    assert m.matrix.shape == (1, 0) and m.query_peaks_used == 0.0


def _random_intervals(rng, n, prefix, long_every=0):
    chrom = rng.choice(["1", "2", "M", "X"], n)
    start = rng.integers(0, 5000, n)
    length = rng.integers(0, 400, n)
    if long_every:
        length[::long_every] = rng.integers(1000, 4000, length[::long_every].size)
    fmt = rng.choice(["{}-{}-{}", "{}:{}-{}", "{}_{}_{}"], n)
    names = [f.format(prefix + c, s, s + ln)
             for f, c, s, ln in zip(fmt, chrom, start, length, strict=True)]
    return names, chrom, start, start + length


@pytest.mark.parametrize(("seed", "min_overlap"), [(0, 1), (1, 1), (2, 30), (3, 200)])
def test_map_peaks_matches_brute_force(seed, min_overlap):
    rng = np.random.default_rng(seed)
    q_names, q_chr, q_s, q_e = _random_intervals(rng, 200, "chr", long_every=17)
    m_names, m_chr, m_s, m_e = _random_intervals(rng, 210, "")
    m = map_peaks(q_names, m_names, min_overlap=min_overlap)
    shared = (np.minimum(q_e[:, None], m_e[None, :])
              - np.maximum(q_s[:, None], m_s[None, :]) + 1)
    expected = (q_chr[:, None] == m_chr[None, :]) & (shared >= min_overlap)
    assert expected.any()
    np.testing.assert_array_equal(m.matrix.toarray(), expected.astype(np.float32))
    assert m.matrix.has_sorted_indices
    assert m.query_peaks_used == pytest.approx(expected.any(axis=1).mean())
    assert m.model_peaks_covered == pytest.approx(expected.any(axis=0).mean())
    counts = rng.poisson(1.0, size=(7, 200))
    mapped, frac = mapped_counts(sp.csr_matrix(counts), m)
    np.testing.assert_array_equal(mapped.toarray(), counts @ expected.astype(np.int64))
    used = expected.any(axis=1)
    assert frac == pytest.approx(counts[:, used].sum() / counts.sum())


def test_map_peaks_at_genome_scale_with_a_chromosome_long_peak():
    # (its speed is measured by benchmarks, not asserted here)
    rng = np.random.default_rng(5)

    def peaks(n, prefix):
        chrom = rng.integers(1, 23, n)
        start = rng.integers(0, 50_000_000, n)
        length = rng.integers(200, 2000, n)
        return [f"{prefix}{c}-{s}-{s + ln}" for c, s, ln in zip(chrom, start, length, strict=True)]

    query, model = peaks(100_000, "chr"), peaks(100_000, "")
    query.append("chr1-0-60000000")  # one peak spanning a whole chromosome stays cheap
    m = map_peaks(query, model)
    assert m.matrix.shape == (100_001, 100_000)
    assert m.matrix[100_000].nnz == int(sum(p.startswith("1-") for p in model))
