"""Embedding h5ad files larger than memory: backed reading and chunked writing.

:func:`embed_chunks` embeds a backed AnnData (``anndata.read_h5ad(path, backed="r")``) a block
of cells at a time; :func:`embed_h5ad` (what ``minnet embed`` runs) copies the input file and
writes the embedding into the copy's ``obsm`` block by block, so neither the counts nor the
embedding are ever held whole. With the default reference scaling a cell's embedding depends
on that cell alone, so the blocks give exactly the in-memory result.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from anndata import AnnData

from ._utils import MinNetInputError, once_per_message, read_h5ad, rows_in_memory
from .model import MinNetModel
from .validation import Modality, check_key

if TYPE_CHECKING:
    import h5py

# Cells read into memory at a time (~100 MB of sparse counts for typical RNA depth).
CHUNK_CELLS = 20_000


def embed_chunks(model: MinNetModel, adata: AnnData, modality: Modality,
                 chunk_cells: int = CHUNK_CELLS, **kwds: object) -> Iterator[tuple[int, np.ndarray]]:
    """Embeddings of ``adata`` (backed or in memory), block by block: ``(first row, block)``.

    ``kwds`` are :meth:`minnet.MinNetModel.embed`'s (``scaling`` must be ``"reference"``: the
    query's own statistics would need every cell at once). Each kind of log message of the
    input checks (feature overlap, peak coverage, empty cells) is given once, for the first
    block that raises it, not once per block.
    """
    if kwds.get("scaling", "reference") != "reference":
        raise MinNetInputError(
            "embedding in blocks (a backed or larger-than-memory file) needs scaling='reference' "
            "(each cell scaled with the training statistics); scaling='query' needs the whole "
            "query in memory: read it without backed=, or embed with the reference scaling.")
    spec = model.inputs.get(modality)  # an unknown modality is refused by model.embed
    if spec is not None and spec.scale_mean is None:
        raise MinNetInputError(
            "this model (minnet 0.1.0) stores no training statistics, so it scales every query "
            "by its own and cannot embed in blocks; read the file into memory (no backed=) or "
            "retrain with this version.")
    with once_per_message():
        for start in range(0, adata.n_obs, chunk_cells):
            block = rows_in_memory(adata, slice(start, start + chunk_cells))
            yield start, model.embed(block, modality, **kwds)


def embed_h5ad(model: MinNetModel, path: str | os.PathLike, out: str | os.PathLike,
               modality: Modality, key_added: str = "X_minnet",
               chunk_cells: int = CHUNK_CELLS, **kwds: object) -> int:
    """Embed the cells of an h5ad file into a copy of it, block by block.

    ``out`` is the input file with ``obsm[key_added]`` and ``uns["minnet"][key_added]`` added
    (what :func:`minnet.tl.embed` writes); memory is bounded by one block of ``chunk_cells``
    cells whatever the file's size. Returns the number of cells embedded.
    """
    import h5py

    check_key(key_added, "key_added")
    if os.path.abspath(path) == os.path.abspath(out):
        raise MinNetInputError("out is the input file; give another path (the input is kept).")
    adata = read_h5ad(path, backed="r")
    tmp = f"{out}.partial"
    try:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as fh:
            obsm = fh.require_group("obsm")
            if key_added in obsm:
                del obsm[key_added]
            dset = obsm.create_dataset(key_added, shape=(adata.n_obs, model.config["n_latent"]),
                                       dtype="float32")
            dset.attrs.update({"encoding-type": "array", "encoding-version": "0.2.0"})
            for start, z in embed_chunks(model, adata, modality, chunk_cells, **kwds):
                dset[start:start + z.shape[0]] = z
            _record(fh, key_added, modality, model, kwds.get("scaling", "reference"))
        os.replace(tmp, out)
    finally:
        adata.file.close()
        if os.path.exists(tmp):
            os.remove(tmp)
    return int(adata.n_obs)


def _record(fh: h5py.File, key: str, modality: str, model: MinNetModel, scaling: object) -> None:
    """``uns["minnet"][key]``: modality, model fingerprint and scaling, as tl.embed writes."""
    from anndata.io import read_elem, write_elem

    uns = fh.require_group("uns")
    known = read_elem(uns["minnet"]) if "minnet" in uns else {}
    known[key] = {"modality": modality, "model": model.fingerprint, "scaling": scaling}
    if "minnet" in uns:
        del uns["minnet"]
    write_elem(uns, "minnet", known)
