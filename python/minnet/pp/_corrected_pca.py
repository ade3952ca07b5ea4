"""ComBat, scaling and PCA of sparse log-normalised RNA without a dense copy (large data).

``scanpy.pp.combat`` → ``scanpy.pp.scale`` → ``scanpy.tl.pca`` needs the cells × genes matrix
dense (and ComBat copies it in float64): ~8 GB per copy for a million cells of 2,000 genes.
With batch as ComBat's only covariate, everything it estimates comes from each batch's mean
and variance of every gene (the empirical-Bayes iterations included), and its correction is
an affine map of each batch's values; scaling is another. So the corrected, scaled matrix is
``Z = X · A_b + B_b`` for the cells of batch ``b``, and its principal components are found by
a truncated SVD of that implicit operator — sparse products only. What differs from the dense
route: scanpy's clipping of scaled values at ±10 is not applied (an affine operator cannot
clip), and the singular vectors come from another solver (signs and rounding differ); the
neighbour graph built on them is otherwise the same (tested).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, svds

# ComBat's empirical-Bayes iterations stop at this relative change (as scanpy's _it_sol).
EB_TOLERANCE = 1e-4
# rows handled at once for the batch moments and the operator's scaled values (float64
# temporaries of this many rows only)
MOMENT_ROWS = 1 << 16


def corrected_pcs(lognorm: sp.csr_matrix, groups: np.ndarray, n_comps: int, combat: bool,
                  seed: int = 0) -> np.ndarray:
    """Principal components of the ComBat-corrected (``combat``) and scaled genes.

    Parameters
    ----------
    lognorm
        Cells × genes, log-normalised (sparse; never densified).
    groups
        Per-cell batch codes ``0..B-1`` (all zeros: one batch, no correction).
    n_comps
        Components to return.
    combat
        Correct each batch's location and scale as ComBat does (batch as the only covariate).
    seed
        Seeds the SVD's start vector.

    Returns
    -------
    ``n_cells × n_comps`` float32 scores (``U · S``), largest component first.
    """
    x = sp.csr_matrix(lognorm)
    counts, mean, var = _batch_moments(x, groups)
    alpha, beta = (_combat_affine(counts, mean, var) if combat and len(counts) > 1
                   else (np.ones_like(mean), np.zeros_like(mean)))
    a, b = _scaled_affine(counts, mean, var, alpha, beta)
    op = _affine_operator(x, groups, a, b)
    del x
    v0 = np.random.default_rng(seed).standard_normal(min(op.shape))
    u, s, _ = svds(op, k=n_comps, v0=v0, solver="arpack")
    order = np.argsort(s)[::-1]
    return (u[:, order] * s[order]).astype(np.float32)


def _batch_moments(x: sp.csr_matrix, groups: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cells, and each gene's mean and (population) variance, of every batch.

    Summed in float64 over blocks of rows: a float64 copy of ``x`` and of its square would
    each be as large as the matrix again."""
    n_groups = int(groups.max()) + 1
    counts = np.bincount(groups, minlength=n_groups).astype(np.float64)
    total = np.zeros((n_groups, x.shape[1]))
    squares = np.zeros((n_groups, x.shape[1]))
    for lo in range(0, x.shape[0], MOMENT_ROWS):
        block = sp.csr_matrix(x[lo:lo + MOMENT_ROWS], dtype=np.float64)
        g = groups[lo:lo + MOMENT_ROWS]
        onehot = sp.csr_matrix((np.ones(g.size), (g, np.arange(g.size))),
                               shape=(n_groups, g.size))
        total += (onehot @ block).toarray()
        block.data **= 2
        squares += (onehot @ block).toarray()
    mean = total / counts[:, None]
    return counts, mean, np.maximum(squares / counts[:, None] - mean ** 2, 0.0)


def _combat_affine(counts: np.ndarray, mean: np.ndarray,
                   var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ComBat's correction ``x → α_b · x + β_b`` per batch and gene, from batch moments.

    The same estimates as ``scanpy.pp.combat`` with batch as the only covariate: pooled
    variance, standardised batch effects, their empirical-Bayes priors and posterior means.
    """
    n = counts.sum()
    grand = (counts[:, None] * mean).sum(axis=0) / n
    pooled = (counts[:, None] * var).sum(axis=0) / n
    ok = pooled > 0
    sd = np.where(ok, np.sqrt(np.where(ok, pooled, 1.0)), 1.0)
    gamma_hat = np.where(ok, (mean - grand) / sd, 0.0)
    # sample variance of the standardised values within each batch
    delta_hat = np.where(ok, var / sd ** 2, 0.0) * (counts / (counts - 1))[:, None]
    gamma_star, delta_star = [], []
    for i in range(len(counts)):
        g, d = _posterior(counts[i], gamma_hat[i], delta_hat[i], var[i] / sd ** 2)
        gamma_star.append(g)
        delta_star.append(d)
    gamma_star, delta_star = np.array(gamma_star), np.array(delta_star)
    alpha = np.where(ok, 1.0 / np.sqrt(delta_star), 0.0)
    beta = np.where(ok, grand - (grand + gamma_star * sd) * alpha, grand)
    return alpha, beta


def _posterior(n: float, g_hat: np.ndarray, d_hat: np.ndarray,
               within: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ComBat's iterated posterior means of one batch's additive and multiplicative effects.

    ``within`` is the batch's population variance of the standardised values: the sum of
    squares around any ``g`` is ``n · (within + (g_hat − g)²)``, all the iterations need.
    """
    g_bar, t2 = g_hat.mean(), g_hat.var()  # as scanpy: t2 with ddof 0, the delta prior 1
    m, s2 = d_hat.mean(), d_hat.var(ddof=1)
    a = (2 * s2 + m ** 2) / s2
    b = (m * s2 + m ** 3) / s2
    g_old, d_old = g_hat.copy(), d_hat.copy()
    while True:
        g_new = (t2 * n * g_hat + d_old * g_bar) / (t2 * n + d_old)
        sum2 = n * (within + (g_hat - g_new) ** 2)
        d_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):  # scanpy's rule, NaN included
            change = max((np.abs(g_new - g_old) / g_old).max(),
                         (np.abs(d_new - d_old) / d_old).max())
        g_old, d_old = g_new, d_new
        if not change > EB_TOLERANCE:
            return g_new, d_new


def _scaled_affine(counts: np.ndarray, mean: np.ndarray, var: np.ndarray, alpha: np.ndarray,
                   beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fold ``scanpy.pp.scale`` (zero mean, unit variance with ddof 1) into the affine map."""
    n = counts.sum()
    w = counts[:, None] / n
    m_b = alpha * mean + beta  # each batch's corrected mean
    mu = (w * m_b).sum(axis=0)
    second = (w * (alpha ** 2 * var + m_b ** 2)).sum(axis=0)
    sd = np.sqrt(np.maximum(second - mu ** 2, 0.0) * n / (n - 1))
    sd[sd == 0] = 1.0
    return alpha / sd, (beta - mu) / sd


def _affine_operator(x: sp.csr_matrix, groups: np.ndarray, a: np.ndarray,
                     b: np.ndarray) -> LinearOperator:
    """``Z = X · A_g + B_g`` row by row, as products with one sparse matrix only.

    Row ``i``'s stored values are scaled by its batch's ``a`` once (``X · A_g`` as one CSR
    matrix sharing ``x``'s indices), so each product is a single sparse product over all cells
    plus each batch's offset ``B_g``; no per-batch copy of the rows is made.
    """
    groups = np.asarray(groups, dtype=np.int64)
    scaled = sp.csr_matrix((_scaled_values(x, groups, a), x.indices, x.indptr), shape=x.shape,
                           copy=False)
    onehot = sp.csr_matrix((np.ones(groups.size), (np.arange(groups.size), groups)),
                           shape=(groups.size, a.shape[0]))  # cells × batches
    scaled_t = scaled.T  # CSC view: X^T u without a transposed copy

    def matmat(v: np.ndarray) -> np.ndarray:
        v = v.reshape(x.shape[1], -1)
        return scaled @ v + onehot @ (b @ v)

    def rmatmat(u: np.ndarray) -> np.ndarray:
        u = u.reshape(x.shape[0], -1)
        return scaled_t @ u + b.T @ (onehot.T @ u)

    return LinearOperator(x.shape, matvec=lambda v: matmat(v).ravel(),
                          rmatvec=lambda u: rmatmat(u).ravel(), matmat=matmat,
                          rmatmat=rmatmat, dtype=np.float64)


def _scaled_values(x: sp.csr_matrix, groups: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``x``'s stored values times ``a[batch of the row, column]``, in float64.

    Filled in blocks of rows, so the only array as long as the stored values is the result
    (the products' precision; 8 bytes per value where per-batch float64 copies took 12)."""
    out = np.empty(x.nnz, dtype=np.float64)
    for lo in range(0, x.shape[0], MOMENT_ROWS):
        hi = min(lo + MOMENT_ROWS, x.shape[0])
        s, e = x.indptr[lo], x.indptr[hi]
        rows = np.repeat(groups[lo:hi], np.diff(x.indptr[lo:hi + 1]))
        out[s:e] = a[rows, x.indices[s:e]] * x.data[s:e]
    return out
