"""``tl.embed``: write a model's co-embedding into ``obsm``."""

from __future__ import annotations

import pandas as pd
from anndata import AnnData

from ..model import MinNetModel
from ..validation import Modality


def embed(
    model: MinNetModel,
    adata: AnnData,
    modality: Modality,
    key_added: str = "X_minnet",
    layer: str | None = None,
    normalized: bool = False,
    batch_key: str | None = None,
    annotation: pd.DataFrame | str | None = None,
    copy: bool = True,
    verify_modality: bool = True,
) -> AnnData | None:
    """Embed cells of one modality and store the co-embedding in ``obsm[key_added]``.

    Parameters
    ----------
    model
        A trained :class:`minnet.MinNetModel`.
    adata
        Cells to embed; raw counts in ``.X`` or ``layer``.
    modality
        ``"rna"``, ``"atac"`` or ``"adt"``.
    key_added
        ``obsm`` key of the result.
    layer, normalized, batch_key, annotation, verify_modality
        As in :meth:`minnet.MinNetModel.embed`.
    copy
        Return a new AnnData (default) instead of writing into ``adata``.

    ``uns["minnet"][key_added]`` records the modality and the fingerprint of the model
    (:attr:`minnet.MinNetModel.fingerprint`).

    Returns
    -------
    The annotated copy when ``copy=True``, else ``None`` (``adata`` is updated).
    """
    z = model.embed(adata, modality, layer=layer, normalized=normalized, batch_key=batch_key,
                    annotation=annotation, verify_modality=verify_modality)
    out = adata.copy() if copy else adata
    out.obsm[key_added] = z
    # the fingerprint lets tools refuse embeddings made by two different models
    out.uns.setdefault("minnet", {})[key_added] = {"modality": modality,
                                                   "model": model.fingerprint}
    return out if copy else None
