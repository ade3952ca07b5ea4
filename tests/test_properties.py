"""Property-based tests (hypothesis): parsers, feature alignment, margins, FOSCTTM, transfer."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.sparse.csgraph import dijkstra

from minnet import MinNetInputError
from minnet.genomics import parse_peak_names, read_annotation
from minnet.margins import GraphDistances
from minnet.metrics import foscttm
from minnet.pp import align_features
from minnet.tl import transfer_labels

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

chrom_names = st.one_of(
    st.integers(1, 22).map(str), st.sampled_from(["X", "Y", "M", "Un_KI270728v1"])
).flatmap(lambda c: st.sampled_from([c, f"chr{c}"]))
positions = st.integers(0, 10**9)


# ------------------------------------------------------------------------------ peak names
@FAST
@given(chrom=chrom_names, a=positions, b=positions, style=st.sampled_from(["-", ":", "_"]))
def test_peak_names_round_trip(chrom, a, b, style):
    start, end = min(a, b), max(a, b)
    name = f"{chrom}:{start}-{end}" if style == ":" else style.join([chrom, str(start), str(end)])
    parsed = parse_peak_names([name])
    assert parsed.loc[name, "chrom"] == chrom
    assert parsed.loc[name, "start"] == start and parsed.loc[name, "end"] == end


@FAST
@given(chrom=chrom_names, a=positions, b=positions)
def test_inverted_peaks_are_refused(chrom, a, b):
    assume(a != b)
    name = f"{chrom}-{max(a, b)}-{min(a, b)}"
    with pytest.raises(MinNetInputError, match="start > end"):
        parse_peak_names([name])


@FAST
@given(st.text(max_size=30))
def test_peak_parser_never_crashes(text):
    try:
        parsed = parse_peak_names([text])
    except MinNetInputError as err:
        assert "peak name" in str(err)
    else:  # whatever parses has ordered, non-negative integer coordinates
        assert 0 <= parsed["start"].iloc[0] <= parsed["end"].iloc[0]


@FAST
@given(st.lists(st.tuples(chrom_names, positions, positions), min_size=1, max_size=20,
                unique_by=lambda t: t))
def test_peak_parsing_is_elementwise(peaks):
    names = [f"{c}-{min(a, b)}-{max(a, b)}" for c, a, b in peaks]
    names = list(dict.fromkeys(names))
    whole = parse_peak_names(names)
    for n in names:
        pd.testing.assert_frame_equal(whole.loc[[n]], parse_peak_names([n]))


# ------------------------------------------------------------------------------ annotation
annotation_rows = st.lists(
    st.tuples(st.from_regex(r"[A-Z][A-Z0-9]{1,6}", fullmatch=True), chrom_names,
              st.integers(1, 10**8), st.sampled_from(["+", "-", 1, -1])),
    min_size=1, max_size=15,
)


@FAST
@given(annotation_rows)
def test_annotation_validation(rows):
    df = pd.DataFrame(rows, columns=["gene_name", "chrom", "tss", "strand"])
    before = df.copy()
    out = read_annotation(df)
    pd.testing.assert_frame_equal(df, before)  # input untouched
    assert out["gene_name"].is_unique
    assert set(out["gene_name"]) == set(df["gene_name"])
    assert set(out["strand"]) <= {"+", "-"}
    first = df.drop_duplicates("gene_name").set_index("gene_name")
    got = out.set_index("gene_name")
    assert (got.loc[first.index, "tss"].to_numpy() == first["tss"].to_numpy()).all()


@FAST
@given(annotation_rows, st.sampled_from(["gene_name", "chrom", "tss", "strand"]))
def test_annotation_missing_column(rows, column):
    df = pd.DataFrame(rows, columns=["gene_name", "chrom", "tss", "strand"]).drop(columns=column)
    with pytest.raises(MinNetInputError, match=column):
        read_annotation(df)


# ------------------------------------------------------------------------------ features
@FAST
@given(st.data())
def test_align_features_places_every_shared_column(data):
    universe = [f"g{i}" for i in range(30)]
    model = data.draw(st.lists(st.sampled_from(universe), min_size=1, max_size=30, unique=True))
    have = data.draw(st.lists(st.sampled_from(universe), min_size=1, max_size=30, unique=True))
    assume(len(set(model) & set(have)) / len(model) >= 0.3)
    x = data.draw(hnp.arrays(np.float32, (4, len(have)), elements=st.floats(0, 100, width=32)))
    xs = sp.csr_matrix(x)
    aligned, missing = align_features(xs, have, model)
    aligned = aligned.toarray()
    assert aligned.shape == (4, len(model))
    for j, f in enumerate(model):
        expect = x[:, have.index(f)] if f in have else np.zeros(4, dtype=np.float32)
        np.testing.assert_array_equal(aligned[:, j], expect)
    assert missing == pytest.approx(len(set(model) - set(have)) / len(model))
    np.testing.assert_array_equal(xs.toarray(), x)  # input untouched


@FAST
@given(st.integers(1, 20), st.integers(1, 20))
def test_align_features_refuses_small_overlap(n_model, n_other):
    model = [f"m{i}" for i in range(n_model)]
    other = [f"o{i}" for i in range(n_other)]
    with pytest.raises(MinNetInputError, match="overlap|shared|features"):
        align_features(sp.csr_matrix(np.ones((2, n_other))), other, model)


# ------------------------------------------------------------------------------ margins
@st.composite
def weighted_graphs(draw):
    n = draw(st.integers(2, 25))
    m = draw(st.integers(1, 3 * n))
    rows = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    cols = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    w = draw(st.lists(st.floats(0.01, 1.01), min_size=m, max_size=m))
    g = sp.coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    g.setdiag(0)
    g.eliminate_zeros()
    g = g.maximum(g.T).tocsr()  # symmetric, positive
    return g


@FAST
@given(weighted_graphs(), st.floats(0.05, 5.0), st.data())
def test_pair_distances_equal_full_dijkstra(g, radius, data):
    n = g.shape[0]
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                               min_size=1, max_size=30))
    src = np.array([p[0] for p in pairs])
    dst = np.array([p[1] for p in pairs])
    full = dijkstra(g, directed=False)
    exact = GraphDistances(g, radius=np.inf).pair_distances(src, dst)
    np.testing.assert_allclose(exact, full[src, dst], rtol=1e-12)
    bounded = GraphDistances(g, radius=radius).pair_distances(src, dst)
    np.testing.assert_allclose(bounded, np.minimum(full[src, dst], radius), rtol=1e-12)
    # symmetric in the pair's order
    np.testing.assert_allclose(GraphDistances(g, radius=radius).pair_distances(dst, src),
                               bounded, rtol=1e-12)


# ------------------------------------------------------------------------------ FOSCTTM
# all coordinates distinct, so no two cells coincide (ties make "closer" ambiguous)
embeddings = st.integers(2, 40).flatmap(
    lambda n: hnp.arrays(np.float64, (n, 3), elements=st.floats(-10, 10), unique=True)
)


@FAST
@given(embeddings)
def test_foscttm_identical_is_zero_and_bounded(x):
    assert foscttm(x, x) == 0.0
    rng = np.random.default_rng(0)
    y = x + rng.normal(scale=0.5, size=x.shape)
    val = foscttm(x, y)
    assert 0.0 <= val <= 1.0


@FAST
@given(embeddings, st.randoms(use_true_random=False))
def test_foscttm_invariant_to_permuting_pairs(x, rnd):
    rng = np.random.default_rng(1)
    y = x + rng.normal(scale=1.0, size=x.shape)
    perm = np.array(rnd.sample(range(len(x)), len(x)))
    assert foscttm(x[perm], y[perm]) == pytest.approx(foscttm(x, y), abs=1e-12)
    # and to swapping the roles of the two modalities
    assert foscttm(y, x) == pytest.approx(foscttm(x, y), abs=1e-12)


# ------------------------------------------------------------------------------ label transfer
@st.composite
def labelled_clouds(draw):
    n_ref = draw(st.integers(3, 40))
    n_q = draw(st.integers(1, 20))
    ref = draw(hnp.arrays(np.float32, (n_ref, 2), elements=st.floats(-5, 5, width=32)))
    q = draw(hnp.arrays(np.float32, (n_q, 2), elements=st.floats(-5, 5, width=32)))
    # Hypothesis favours repeated values (0, ±5): a tiny seeded jitter makes tied distances,
    # which the test must filter out, rare instead of the rule
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ref = ref + rng.uniform(-0.01, 0.01, ref.shape).astype(np.float32)
    q = q + rng.uniform(-0.01, 0.01, q.shape).astype(np.float32)
    labels = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n_ref, max_size=n_ref))
    return ref, q, labels


def _objects(ref, q, labels):
    r = ad.AnnData(X=np.zeros((len(ref), 1), dtype=np.float32))
    r.obs_names = [f"r{i}" for i in range(len(ref))]
    r.obs["cell_type"] = pd.Categorical(labels)
    r.obsm["X_minnet"] = ref
    qq = ad.AnnData(X=np.zeros((len(q), 1), dtype=np.float32))
    qq.obs_names = [f"q{i}" for i in range(len(q))]
    qq.obsm["X_minnet"] = q
    return r, qq


@FAST
@given(labelled_clouds(), st.randoms(use_true_random=False))
def test_transfer_permutation_equivariant(cloud, rnd):
    ref, q, labels = cloud
    k = min(5, len(ref))
    if k < len(ref):  # the k nearest must be well defined: no tie at the k-th distance
        d = np.sort(np.linalg.norm(q[:, None, :] - ref[None, :, :], axis=2), axis=1)
        assume(np.all(d[:, k] - d[:, k - 1] > 1e-3))
    r, qq = _objects(ref, q, labels)
    out = transfer_labels(r, qq, "cell_type", n_neighbors=k)
    pred, conf = out.obs["cell_type_pred"].astype(str), out.obs["cell_type_confidence"]
    assert set(pred) <= set(labels)
    assert ((conf > 0) & (conf <= 1 + 1e-9)).all()
    # permuting the query cells permutes the results; permuting the reference changes nothing
    perm_q = np.array(rnd.sample(range(len(q)), len(q)))
    perm_r = np.array(rnd.sample(range(len(ref)), len(ref)))
    r2, q2 = _objects(ref[perm_r], q[perm_q], [labels[i] for i in perm_r])
    out2 = transfer_labels(r2, q2, "cell_type", n_neighbors=k)
    # compare where the vote is not tied (ties may be broken by reference order)
    c1 = conf.to_numpy()[perm_q]
    c2 = out2.obs["cell_type_confidence"].to_numpy()
    np.testing.assert_allclose(c2, c1, atol=1e-5)
    clear = c1 > 0.5 + 1e-4
    assert (out2.obs["cell_type_pred"].astype(str).to_numpy()[clear]
            == pred.to_numpy()[perm_q][clear]).all()


@FAST
@given(labelled_clouds())
def test_transfer_single_label_reference(cloud):
    ref, q, _ = cloud
    r, qq = _objects(ref, q, ["A"] * len(ref))
    out = transfer_labels(r, qq, "cell_type", n_neighbors=min(5, len(ref)))
    assert (out.obs["cell_type_pred"].astype(str) == "A").all()
    np.testing.assert_allclose(out.obs["cell_type_confidence"], 1.0)
    assert "cell_type_pred" not in qq.obs  # query untouched
