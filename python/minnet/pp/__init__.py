"""Preprocessing: normalisation, feature selection and alignment, scaling, gene activity."""

from ._features import align_features, select_features
from ._gene_activity import gene_activity
from ._normalize import clr_normalize, log_normalize, normalized_matrix
from ._scale import Standardizer, scale

__all__ = [
    "align_features",
    "clr_normalize",
    "gene_activity",
    "log_normalize",
    "normalized_matrix",
    "scale",
    "select_features",
    "Standardizer",
]
