"""ATAC peaks as model input: TF-IDF and a latent semantic projection fitted on training cells.

A :class:`PeakProjection` is fitted on the paired training cells' peak counts (each peak's
inverse document frequency, and the top right singular vectors of the TF-IDF matrix), stored
in the model file and applied to any query's peaks. Query peaks from another peak calling are
first mapped onto the model's peaks by genomic overlap (:func:`minnet.genomics.map_peaks`),
and how much of the model's peaks and of the query's counts that covers is logged; too little
is an error. Each cell's projection depends on that cell's counts alone.

The first singular vector is dropped: on TF-IDF it mostly follows sequencing depth (as in
Signac and ArchR). Measured on the real development set (``benchmarks/dev_cv.py``), peaks
through this projection gave a better co-embedding than gene activity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from ._utils import MinNetInputError, logger, to_csr_float32
from .genomics import map_peaks, mapped_counts
from .validation import check_int

# TF-IDF values are log1p(term frequency · idf · TFIDF_SCALE), as Signac's RunTFIDF.
TFIDF_SCALE = 1e4
# A query whose peaks overlap fewer than this fraction of the model's peaks is refused unless
# the caller lowers min_overlap; below WARN_COVERAGE it is reported as a warning.
WARN_COVERAGE = 0.7
# Cells per block when projecting (bounds the dense TF-IDF rows in memory).
CHUNK_CELLS = 8192


@dataclass
class PeakProjection:
    """TF-IDF of peak counts projected on singular vectors fitted at training.

    Attributes
    ----------
    peaks
        The model's peaks (``chr-start-end``), in the order of ``components``' columns.
    idf
        Each peak's inverse document frequency over the training cells (``n / cells with it``).
    components
        ``n_dims × n_peaks`` float32: the right singular vectors kept (the first dropped).
    unit_norm
        Scale each cell's coordinates to unit length (what :meth:`fit` does; files of models
        trained before it existed read ``False``). Measured on the real development set: the
        cells' depth left in the coordinates' length made shallow query libraries' cells look
        alike; at unit length label transfer gained 1.4 points (BENCHMARKS.md).
    """

    peaks: list[str]
    idf: np.ndarray
    components: np.ndarray
    unit_norm: bool = False

    @property
    def feature_names(self) -> list[str]:
        """Names of the projection's dimensions, the ATAC encoder's input features."""
        return [f"LSI_{i + 2}" for i in range(self.components.shape[0])]

    @classmethod
    def fit(cls, counts: sp.spmatrix | np.ndarray, peaks: Sequence[str], n_components: int = 300,
            seed: int = 0, unpaired: sp.spmatrix | np.ndarray | None = None,
            ) -> tuple[PeakProjection, sp.csr_matrix]:
        """Fit on training cells' peak counts; returns the projection and their input.

        Peaks no cell has are left out (their idf is undefined). Fewer cells or peaks than
        ``n_components`` give fewer dimensions (with a warning). ``unpaired``: more cells'
        counts on the same peaks (the query-aware mode's query), used for the idf and the
        singular vectors too, so that directions along which the query's libraries vary are
        kept; only the training cells' input is returned.
        """
        check_int(n_components, "n_components", 2)
        x = to_csr_float32(counts)
        n_train = x.shape[0]
        if unpaired is not None:
            x = sp.vstack([x, to_csr_float32(unpaired)], format="csr")
        detected = np.asarray((x > 0).sum(axis=0)).ravel()
        keep = np.flatnonzero(detected > 0)
        x = x[:, keep]
        n_components = _fitting_components(n_components, *x.shape)
        idf = (x.shape[0] / detected[keep]).astype(np.float32)
        tfidf = _tfidf(x, idf)
        _, _, vt = randomized_svd(tfidf, n_components + 1, random_state=seed)
        proj = cls([str(peaks[i]) for i in keep], idf, vt[1:].astype(np.float32), unit_norm=True)
        logger.info("atac: %d LSI dimensions of %d peaks fitted on %d cells (%d unpaired)",
                    n_components, keep.size, x.shape[0], x.shape[0] - n_train)
        return proj, proj._project(x[:n_train])

    def transform(self, counts: sp.spmatrix | np.ndarray, peaks: Sequence[str],
                  min_overlap: float = 0.3, what: str = "atac data") -> sp.csr_matrix:
        """Project a query's peak counts, mapping its peaks onto the model's by overlap."""
        x = to_csr_float32(counts)
        mapping = map_peaks(list(peaks), self.peaks)
        if not mapping.identical:
            x, used = mapped_counts(x, mapping)
            self._report(mapping.model_peaks_covered, used, min_overlap, what)
        return self._project(x)

    def _report(self, covered: float, used: float, min_overlap: float, what: str) -> None:
        """Log how well the query's peaks cover the model's; refuse too little."""
        message = (f"{what}: its peaks overlap {covered:.0%} of the model's {len(self.peaks)} "
                   f"peaks and {used:.0%} of its counts lie on them")
        if covered < min_overlap:
            raise MinNetInputError(
                f"{message}, below min_overlap={min_overlap:g}. The peaks may come from another "
                "genome build (e.g. hg19 vs hg38) or organism than the model's: lift them over "
                "to the model's build, or re-count the query's fragments in the model's peaks.")
        if covered < WARN_COVERAGE or used < WARN_COVERAGE:
            logger.warning("%s; the embedding uses only the overlapping peaks.", message)
        else:
            logger.info("%s.", message)

    def _project(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """LSI coordinates of cells × model-peaks counts, in blocks of cells."""
        out = [
            _tfidf(x[start:start + CHUNK_CELLS], self.idf) @ self.components.T
            for start in range(0, x.shape[0], CHUNK_CELLS)
        ]
        z = np.vstack(out) if out else np.zeros((0, self.components.shape[0]), np.float32)
        z = np.asarray(z, dtype=np.float32)
        if self.unit_norm:  # a cell without counts stays at zero
            length = np.linalg.norm(z, axis=1, keepdims=True)
            np.divide(z, length, out=z, where=length > 0)
        return sp.csr_matrix(z)


def _fitting_components(n_components: int, n_cells: int, n_peaks: int) -> int:
    """``n_components``, or fewer when the training cells are too few to give that many."""
    most = min(n_cells, n_peaks) - 2  # one vector more is fitted and dropped
    if n_components <= most:
        return n_components
    if most < 2:
        raise MinNetInputError(
            f"{n_cells} training cells with counts on {n_peaks} peaks are too few for an LSI "
            "peak input; pass more cells, or gene activity (annotation=).")
    logger.warning("atac: %d training cells and %d peaks give at most %d LSI dimensions "
                   "(n_lsi_components=%d)", n_cells, n_peaks, most, n_components)
    return most


def _tfidf(x: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """``log1p(counts / cell total · idf · TFIDF_SCALE)``; cells without counts stay zero."""
    totals = np.asarray(x.sum(axis=1)).ravel()
    inv = np.divide(1.0, totals, out=np.zeros_like(totals, dtype=np.float64), where=totals > 0)
    y = sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ x @ sp.diags(idf))
    np.log1p(y.data * TFIDF_SCALE, out=y.data)
    return y
