"""Tools: embed data with a model and transfer labels in the co-embedding."""

from ._embed import embed
from ._transfer import transfer_labels

__all__ = ["embed", "transfer_labels"]
