"""Plots of the co-embedding and downstream results; each returns a matplotlib Figure."""

from ._confusion import transfer_confusion
from ._embedding import embedding
from ._links import links

__all__ = ["embedding", "links", "transfer_confusion"]
