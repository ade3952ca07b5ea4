"""Tools on the co-embedding: embed, transfer labels, match, cluster, smooth, mini-bulk, links."""

from ._cluster import cluster
from ._embed import embed
from ._links import link_peaks, link_peaks_by_group, subset_links
from ._match import match_cells
from ._minibulk import minibulk
from ._pipeline import peak_gene_links
from ._smooth import smooth
from ._transfer import transfer_labels

__all__ = [
    "cluster",
    "embed",
    "link_peaks",
    "link_peaks_by_group",
    "match_cells",
    "minibulk",
    "peak_gene_links",
    "smooth",
    "subset_links",
    "transfer_labels",
]
