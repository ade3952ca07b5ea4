"""``tl.embed``: write a model's co-embedding into ``obsm``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pandas as pd
from anndata import AnnData

from .._utils import MinNetInputError
from ..inputs import Scaling
from ..model import MinNetModel, load
from ..multimodal import is_mudata, modality_of, resolve_mod_key
from ..validation import Modality, check_key

if TYPE_CHECKING:
    from mudata import MuData


def embed(
    model: MinNetModel | str | os.PathLike,
    adata: AnnData | MuData,
    modality: Modality,
    key_added: str = "X_minnet",
    layer: str | None = None,
    normalized: bool = False,
    batch_key: str | None = None,
    annotation: pd.DataFrame | str | None = None,
    copy: bool = True,
    verify_modality: bool = True,
    scaling: Scaling = "reference",
    mod_key: str | None = None,
) -> AnnData | MuData | None:
    """Embed cells of one modality and store the co-embedding in ``obsm[key_added]``.

    Parameters
    ----------
    model
        A trained :class:`minnet.MinNetModel`, or the path of a model file (loaded with
        :func:`minnet.load`; load it once yourself when embedding several objects).
    adata
        Cells to embed; raw counts in ``.X`` or ``layer``. A :class:`mudata.MuData` is accepted
        too: its modality ``mod_key`` is embedded and annotated (``obsm[key_added]`` and
        ``uns["minnet"][key_added]`` of ``mdata.mod[mod_key]``).
    modality
        ``"rna"``, ``"atac"`` or ``"adt"``.
    key_added
        ``obsm`` key of the result: a non-empty string without ``"/"`` (h5ad files cannot
        store such keys).
    layer, normalized, batch_key, annotation, verify_modality, scaling
        As in :meth:`minnet.MinNetModel.embed` (``scaling="reference"``, the default, embeds
        every cell on its own; ``"query"`` scales the query by its own statistics).
    copy
        Return a new AnnData (default) instead of writing into ``adata``. For a MuData, a copy
        of the whole MuData is returned (or, with ``copy=False``, the given one is updated).
    mod_key
        MuData only: the key of the modality to embed in ``adata.mod``. ``None`` tries
        ``modality`` itself, then for ``"atac"`` ``"peaks"`` and ``"chromatin"``, for ``"adt"``
        ``"prot"`` and ``"protein"``. Must be ``None`` for an AnnData.

    ``uns["minnet"][key_added]`` records the modality, the scaling and the fingerprint of the model
    (:attr:`minnet.MinNetModel.fingerprint`).

    Returns
    -------
    The annotated copy (AnnData or MuData, like ``adata``) when ``copy=True``, else ``None``
    (``adata`` is updated).

    Raises
    ------
    MinNetInputError
        If ``key_added`` cannot be stored in an h5ad file, ``model`` is neither a model nor
        a path, or ``mod_key`` is not a modality of the MuData (or is given with an AnnData).
    FileNotFoundError, minnet.io.ModelFileError
        If ``model`` is a path that does not exist or is not a readable model file.
    """
    check_key(key_added, "key_added")
    if is_mudata(adata):
        return _embed_mudata(model, adata, modality, mod_key, copy, key_added=key_added,
                             layer=layer, normalized=normalized, batch_key=batch_key,
                             annotation=annotation, verify_modality=verify_modality,
                             scaling=scaling)
    if mod_key is not None:
        raise MinNetInputError(
            "mod_key selects a modality of a MuData; adata is an AnnData, so pass mod_key=None."
        )
    model = _as_model(model)
    if getattr(adata, "isbacked", False):
        raise MinNetInputError(
            "adata is backed (read_h5ad(..., backed='r')), and tl.embed writes into an "
            "in-memory copy of it. For a file larger than memory use minnet.embed_h5ad(model, "
            "path, out, modality) (or `minnet embed`), which writes a copy of the file block by "
            "block; model.embed(adata, modality) gives the embedding array of a backed AnnData.")
    z = model.embed(adata, modality, layer=layer, normalized=normalized, batch_key=batch_key,
                    annotation=annotation, verify_modality=verify_modality, scaling=scaling)
    out = adata.copy() if copy else adata
    out.obsm[key_added] = z
    # the fingerprint lets tools refuse embeddings made by two different models
    out.uns.setdefault("minnet", {})[key_added] = {
        "modality": modality, "model": model.fingerprint, "scaling": scaling}
    return out if copy else None


def _embed_mudata(model: MinNetModel | str | os.PathLike, mdata: MuData, modality: Modality,
                  mod_key: str | None, copy: bool, **kwds: object) -> MuData | None:
    """tl.embed on the modality ``mod_key`` of a MuData, written into that modality's AnnData."""
    key = resolve_mod_key(mdata, modality, mod_key, "mod_key")
    model = _as_model(model)  # before copying: a bad model costs no copy
    out = mdata.copy() if copy else mdata
    embed(model, modality_of(out, key), modality, copy=False, **kwds)
    return out if copy else None


def _as_model(model: object) -> MinNetModel:
    """A model, or the model file at a path (scanpy-style convenience)."""
    if isinstance(model, MinNetModel):
        return model
    if isinstance(model, str | os.PathLike):
        return load(model)
    raise MinNetInputError(
        f"model must be a MinNetModel (from minnet.train or minnet.load) or the path of a model "
        f"file, got {type(model).__name__}."
    )
