"""Graph distances of drawn pairs: exact against full Dijkstra, bounded, no n × n memory."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from minnet import MinNetInputError
from minnet.margins import GraphDistances


def random_graph(n: int, seed: int, density: float = 0.03, components: int = 1) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    blocks = []
    sizes = np.full(components, n // components)
    sizes[-1] += n - sizes.sum()
    for m in sizes:
        a = sp.random(m, m, density=density, random_state=rng, format="csr")
        a.data = rng.uniform(0.01, 1.01, a.nnz)
        blocks.append(a.maximum(a.T))
    return sp.csr_matrix(sp.block_diag(blocks))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_against_full_dijkstra(seed):
    g = random_graph(150, seed)
    full = dijkstra(g, directed=False)
    rng = np.random.default_rng(seed)
    s, t = rng.integers(0, 150, 3000), rng.integers(0, 150, 3000)
    d = GraphDistances(g, radius=np.inf).pair_distances(s, t)
    np.testing.assert_allclose(d, full[s, t])


@pytest.mark.parametrize("radius", [0.2, 0.7, 1.5])
@pytest.mark.parametrize("landmarks", [0, 6])
def test_bounded_radius_saturates(radius, landmarks):
    g = random_graph(200, 3, components=2)  # unreachable pairs too
    full = dijkstra(g, directed=False)
    rng = np.random.default_rng(5)
    s, t = rng.integers(0, 200, 4000), rng.integers(0, 200, 4000)
    gd = GraphDistances(g, radius=radius, n_landmarks=landmarks)
    np.testing.assert_allclose(gd.pair_distances(s, t), np.minimum(full[s, t], radius))


def test_unreachable_is_inf_without_radius():
    g = random_graph(60, 1, components=2)
    d = GraphDistances(g, radius=np.inf).pair_distances(np.array([0]), np.array([59]))
    assert np.isinf(d[0])


def test_auto_radius_holds_about_ball_size():
    g = random_graph(3000, 0, density=0.003)
    gd = GraphDistances(g, radius="auto", ball_size=300)
    assert np.isfinite(gd.radius)
    row = dijkstra(g, directed=False, indices=17)
    within = (row < gd.radius).sum()
    assert 30 < within < 3000  # a neighbourhood, not the whole graph
    g_small = random_graph(100, 0)
    small = GraphDistances(g_small, radius="auto", ball_size=300)
    # small graphs: exact distances (the radius lies beyond every finite one), never infinite
    full = dijkstra(g_small, directed=False)
    assert np.isfinite(small.radius) and small.radius >= full[np.isfinite(full)].max()


def test_memory_is_not_quadratic():
    import tracemalloc

    n = 20_000
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(n), 10)
    cols = (rows + rng.integers(1, 50, rows.size)) % n
    g = sp.csr_matrix((rng.uniform(0.01, 1.0, rows.size), (rows, cols)), shape=(n, n))
    g = g.maximum(g.T)
    tracemalloc.start()
    gd = GraphDistances(g, radius="auto", ball_size=500, n_landmarks=8)
    gd.pair_distances(rng.integers(0, n, n), rng.integers(0, n, n))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.05 * n * n * 8  # far below one dense n × n float64 matrix (3.2 GB)


def test_bad_input():
    g = random_graph(10, 0)
    with pytest.raises(MinNetInputError, match="same length"):
        GraphDistances(g).pair_distances(np.array([0, 1]), np.array([0]))
    with pytest.raises(MinNetInputError, match=r"\[0, 10\)"):
        GraphDistances(g).pair_distances(np.array([0]), np.array([10]))
    with pytest.raises(MinNetInputError, match="radius"):
        GraphDistances(g, radius="big")


def test_auto_radius_keeps_unreachable_pairs_finite_on_small_graphs():
    # two separate paths of 5 cells each (edge length 1): pairs across them have no path
    rows = [0, 1, 2, 3, 5, 6, 7, 8]
    g = sp.coo_matrix((np.ones(8), (rows, [r + 1 for r in rows])), shape=(10, 10))
    g = (g + g.T).tocsr()
    dist = GraphDistances(g, radius="auto", seed=0)
    assert np.isfinite(dist.radius) and dist.radius >= 4
    within = dist.pair_distances(np.array([0, 5, 1]), np.array([4, 9, 3]))
    np.testing.assert_allclose(within, [4.0, 4.0, 2.0])  # exact inside a component
    across = dist.pair_distances(np.array([0, 4]), np.array([5, 9]))
    assert np.all(across == dist.radius)  # saturated, not infinite
