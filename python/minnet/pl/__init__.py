"""Plots of the co-embedding and downstream results; each returns a matplotlib Figure."""

from ._embedding import embedding

__all__ = ["embedding"]
