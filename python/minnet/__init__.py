"""MinNet: integrate paired and unpaired single-cell multi-omics with a Siamese network."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger("minnet").addHandler(logging.NullHandler())

from . import datasets, metrics, pl, pp, tl  # noqa: E402
from ._utils import MinNetInputError  # noqa: E402
from .backed import embed_h5ad  # noqa: E402
from .io import ModelFileError  # noqa: E402
from .model import MinNetModel, load  # noqa: E402
from .train import train  # noqa: E402

__all__ = [
    "MinNetInputError",
    "MinNetModel",
    "ModelFileError",
    "datasets",
    "embed_h5ad",
    "load",
    "metrics",
    "pl",
    "pp",
    "tl",
    "train",
    "__version__",
]
