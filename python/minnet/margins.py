"""Shortest-path distances of drawn cell pairs in the RNA graph, without any n × n matrix.

Each epoch only the distances of the pairs drawn that epoch are needed. Every pair is solved by
a bidirectional Dijkstra search from both of its cells that stops when the two searches prove
the shortest path or pass the radius (distances beyond it saturate at the radius). Each side
explores only about half the radius, a much smaller ball than a one-sided search (about 10×
faster at 10,000 cells). For large graphs, landmark lower bounds ``|d(l, i) − d(l, j)| ≤ d(i, j)``
prove many random pairs to lie beyond the radius without any search. Memory is
O(n · (k + n_landmarks)).
"""

from __future__ import annotations

import heapq

import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy.sparse.csgraph import dijkstra

from ._utils import MinNetInputError, logger


@njit(cache=True)
def _bounded_pair_dijkstra(indptr, indices, weights, src, dst, radius, out):  # pragma: no cover
    """Bidirectional Dijkstra per pair, stopped at ``radius``: each side explores ~radius/2.

    ``mu`` is the shortest s–t path seen where the two searches touch; once the two frontier
    keys add up to ``min(mu, radius)`` no shorter path can exist (undirected graph).
    """
    n = indptr.shape[0] - 1
    dist_f = np.full(n, np.inf)
    dist_b = np.full(n, np.inf)
    touched = np.empty(2 * n, dtype=np.int64)
    for p in range(src.shape[0]):
        s = src[p]
        t = dst[p]
        if s == t:
            out[p] = 0.0
            continue
        dist_f[s] = 0.0
        dist_b[t] = 0.0
        touched[0] = s
        touched[1] = t
        n_touched = 2
        heap_f = [(0.0, s)]
        heap_b = [(0.0, t)]
        mu = np.inf
        while len(heap_f) > 0 and len(heap_b) > 0:
            if heap_f[0][0] + heap_b[0][0] >= min(mu, radius):
                break
            forward = heap_f[0][0] <= heap_b[0][0]
            if forward:
                d, u = heapq.heappop(heap_f)
                if d > dist_f[u]:
                    continue
            else:
                d, u = heapq.heappop(heap_b)
                if d > dist_b[u]:
                    continue
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                nd = d + weights[e]
                if forward:
                    other = dist_b[v]
                    if nd < dist_f[v] and nd < radius:
                        if dist_f[v] == np.inf and dist_b[v] == np.inf:
                            touched[n_touched] = v
                            n_touched += 1
                        dist_f[v] = nd
                        heapq.heappush(heap_f, (nd, v))
                else:
                    other = dist_f[v]
                    if nd < dist_b[v] and nd < radius:
                        if dist_f[v] == np.inf and dist_b[v] == np.inf:
                            touched[n_touched] = v
                            n_touched += 1
                        dist_b[v] = nd
                        heapq.heappush(heap_b, (nd, v))
                if nd + other < mu:
                    mu = nd + other
        out[p] = min(mu, radius)
        for q in range(n_touched):
            dist_f[touched[q]] = np.inf
            dist_b[touched[q]] = np.inf


class GraphDistances:
    """Exact, radius-bounded shortest-path distances for arbitrary cell pairs of a graph.

    Parameters
    ----------
    lengths
        Symmetric sparse matrix of edge lengths (explicit entries are edges, all > 0).
    radius
        Distances are ``min(d, radius)``; ``"auto"`` picks the radius that holds about
        ``ball_size`` cells around a typical cell (when the graph or its components are
        smaller: twice the largest distance from a few sampled cells, so that distances within
        a component stay exact and unreachable pairs get a finite value); ``np.inf`` makes
        every distance exact (unreachable pairs then get ``inf``).
    ball_size
        Target number of cells within the radius for ``radius="auto"``.
    n_landmarks
        Landmarks used to skip searches for pairs provably beyond the radius; ``None`` uses
        16 when the graph has more than 20,000 cells, else none.
    seed
        Seed for the landmark and radius-estimation cells.
    """

    def __init__(
        self,
        lengths: sp.spmatrix,
        radius: float | str = "auto",
        ball_size: int = 1024,
        n_landmarks: int | None = None,
        seed: int = 0,
    ) -> None:
        g = sp.csr_matrix(lengths, dtype=np.float64)
        if g.shape[0] != g.shape[1]:
            raise MinNetInputError(f"graph must be square, got shape {g.shape}.")
        if g.nnz and (not np.all(np.isfinite(g.data)) or g.data.min() <= 0):
            raise MinNetInputError("graph edge lengths must be finite and positive.")
        g.sort_indices()
        self.graph = g
        self.n = g.shape[0]
        rng = np.random.default_rng(seed)
        if isinstance(radius, str):
            if radius != "auto":
                raise MinNetInputError(f"radius must be a number or 'auto', got {radius!r}.")
            radius = self._estimate_radius(ball_size, rng)
        self.radius = float(radius)
        if n_landmarks is None:
            n_landmarks = 16 if self.n > 20_000 and np.isfinite(self.radius) else 0
        self.landmark_dist = None
        if n_landmarks > 0 and np.isfinite(self.radius):
            land = rng.choice(self.n, size=min(n_landmarks, self.n), replace=False)
            self.landmark_dist = dijkstra(g, directed=False, indices=land).astype(np.float32)
        logger.info("graph distances: %d cells, radius %.3g, %d landmarks",
                    self.n, self.radius, 0 if self.landmark_dist is None else n_landmarks)

    def _estimate_radius(self, ball_size: int, rng: np.random.Generator) -> float:
        sources = rng.choice(self.n, size=min(8, self.n), replace=False)
        radii, farthest = [], 0.0
        for s in sources:  # one row at a time: O(n) memory
            d = dijkstra(self.graph, directed=False, indices=int(s))
            d = d[np.isfinite(d)]
            farthest = max(farthest, float(d.max()))
            if self.n > ball_size and d.size > ball_size:
                radii.append(np.partition(d, ball_size)[ball_size])
        if radii:
            return float(np.median(radii))
        # Small graph (or only small components): distances within a component are exact up to
        # twice the farthest distance seen (no path in a component is longer than twice a
        # cell's eccentricity), and pairs in different components saturate there instead of
        # being infinite, which would turn their margins, and the loss, into NaN.
        return 2.0 * farthest if farthest > 0 else 1.0

    def pair_distances(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Return ``min(d(src[p], dst[p]), radius)`` for every pair ``p`` (float64)."""
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        if src.shape != dst.shape:
            raise MinNetInputError("src and dst must have the same length.")
        if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= self.n):
            raise MinNetInputError(f"cell indices must lie in [0, {self.n}).")
        out = np.full(src.shape[0], self.radius, dtype=np.float64)
        todo = np.ones(src.shape[0], dtype=bool)
        if self.landmark_dist is not None and src.size:
            a, b = self.landmark_dist[:, src], self.landmark_dist[:, dst]
            with np.errstate(invalid="ignore"):
                diff = np.abs(a - b)
            diff[np.isnan(diff)] = 0.0  # both unreachable from a landmark: no information
            todo = diff.max(axis=0) < self.radius
        idx = np.flatnonzero(todo)
        if idx.size:
            out[idx] = self.search(src[idx], dst[idx])
        return out

    def search(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """The radius-bounded bidirectional search for each pair, without the landmark filter.

        :meth:`pair_distances` calls it for the pairs the landmarks cannot rule out; exposed so
        benchmarks can time one search (indices are not checked here).
        """
        res = np.empty(len(src), dtype=np.float64)
        g = self.graph
        _bounded_pair_dijkstra(
            g.indptr.astype(np.int64), g.indices.astype(np.int64), g.data,
            np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64), self.radius, res,
        )
        return res
