"""MuData input: find the RNA and the other modality of a :class:`mudata.MuData` (muon's
container for multiome / CITE-seq data) and pair their cells.

``mudata`` is imported only when a MuData object is actually handled: :func:`is_mudata` looks
the class up in ``sys.modules`` (an object cannot be a MuData unless mudata has been imported).

Nothing here modifies the caller's MuData. The AnnData objects returned are the MuData's own
modalities when their cells already match, else AnnData *views* of them (copy-on-write: writing
into a view turns it into a copy and leaves the MuData untouched). Large matrices are never
copied here.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal

import numpy as np
from anndata import AnnData

from ._utils import MinNetInputError, logger
from .validation import MODALITIES, Modality, check_choice

if TYPE_CHECKING:
    from mudata import MuData

#: Keys tried, in order, for each modality when no key is given.
MOD_KEYS: dict[str, tuple[str, ...]] = {
    "rna": ("rna",),
    "atac": ("atac", "peaks", "chromatin"),
    "adt": ("adt", "prot", "protein"),
}


def is_mudata(obj: object) -> bool:
    """Whether ``obj`` is a :class:`mudata.MuData` (mudata is not imported to find out).

    Parameters
    ----------
    obj
        Any object.

    Returns
    -------
    bool
        ``True`` for a MuData object (or a view of one).
    """
    mudata = sys.modules.get("mudata")
    return mudata is not None and isinstance(obj, mudata.MuData)


def modality_of(mdata: MuData, key: str) -> AnnData:
    """The AnnData of one modality, ``mdata.mod[key]`` (the MuData's own object, not a copy).

    Parameters
    ----------
    mdata
        A MuData object.
    key
        The modality's key in ``mdata.mod``.

    Returns
    -------
    anndata.AnnData
        ``mdata.mod[key]``.

    Raises
    ------
    MinNetInputError
        If ``mdata`` is not a MuData or has no modality ``key``; the message lists the keys.
    """
    _check_is_mudata(mdata, "mdata")
    if not isinstance(key, str) or key not in mdata.mod:
        raise MinNetInputError(
            f"the MuData has no modality {key!r}; available modalities: {list(mdata.mod)}."
        )
    return mdata.mod[key]


def resolve_mod_key(
    mdata: MuData, modality: Modality, key: str | None = None, arg: str = "mod_key"
) -> str:
    """The key of ``modality`` in ``mdata.mod``: ``key`` when given, else the first of
    :data:`MOD_KEYS` [modality] that ``mdata`` holds.

    Parameters
    ----------
    mdata
        A MuData object.
    modality
        ``"rna"``, ``"atac"`` or ``"adt"``.
    key
        The key to use; ``None`` tries ``"rna"``; ``"atac"``, ``"peaks"``, ``"chromatin"``;
        ``"adt"``, ``"prot"``, ``"protein"``.
    arg
        The name of the argument that sets ``key`` (named in the error message).

    Returns
    -------
    str
        A key of ``mdata.mod``.

    Raises
    ------
    MinNetInputError
        If the key (or none of the default keys) is in ``mdata.mod``; the message lists the
        available modalities and says which argument to set.
    """
    _check_is_mudata(mdata, "mdata")
    modality = check_choice(modality, "modality", MODALITIES, ignore_case=True)
    if key is not None:
        if not isinstance(key, str) or key not in mdata.mod:
            raise MinNetInputError(
                f"{arg}={key!r} is not a modality of the MuData; available modalities: "
                f"{list(mdata.mod)}. Set {arg} to the key of the {modality.upper()} modality."
            )
        return key
    for candidate in MOD_KEYS[modality]:
        if candidate in mdata.mod:
            return candidate
    tried = ", ".join(repr(k) for k in MOD_KEYS[modality])
    raise MinNetInputError(
        f"no {modality.upper()} modality found in the MuData (tried {tried}); available "
        f"modalities: {list(mdata.mod)}. Set {arg} to the key of the {modality.upper()} modality."
    )


def split_mudata(
    mdata: MuData,
    modality: Literal["atac", "adt"],
    rna_key: str = "rna",
    other_key: str | None = None,
) -> tuple[AnnData, AnnData]:
    """The RNA and the other modality of a MuData, restricted to their shared cells.

    Parameters
    ----------
    mdata
        A MuData holding RNA and ATAC (multiome) or ADT (CITE-seq) modalities. It is not
        modified.
    modality
        The other modality: ``"atac"`` or ``"adt"``.
    rna_key
        Key of the RNA modality in ``mdata.mod``.
    other_key
        Key of the other modality; ``None`` tries ``"atac"``, ``"peaks"``, ``"chromatin"``
        (ATAC) or ``"adt"``, ``"prot"``, ``"protein"`` (ADT).

    Returns
    -------
    rna, other : anndata.AnnData
        The cells present in both modalities (matched by ``obs_names``), in the RNA's order.
        When both modalities already hold the same cells in the same order these are the
        MuData's own AnnData objects (do not modify them in place if the MuData must stay
        unchanged; :func:`minnet.train` does not); otherwise they are AnnData views
        (copy-on-write). Cells only in one modality are dropped and their number is logged.

    Raises
    ------
    MinNetInputError
        If ``mdata`` is not a MuData, a key is missing (the message lists the available
        modalities and the argument to set), the modalities share no cells, or ``obs_names``
        are duplicated where cells must be matched by name.
    """
    _check_is_mudata(mdata, "mdata")
    modality = check_choice(modality, "modality", ("atac", "adt"), ignore_case=True)
    rna = modality_of(mdata, resolve_mod_key(mdata, "rna", rna_key, "rna_key"))
    other = modality_of(mdata, resolve_mod_key(mdata, modality, other_key, "other_key"))
    if rna.obs_names.equals(other.obs_names):
        return rna, other
    for part, name in ((rna, "RNA"), (other, modality.upper())):
        if not part.obs_names.is_unique:
            raise MinNetInputError(
                f"the {name} modality has duplicated obs_names, so its cells cannot be matched "
                "to the other modality's; make them unique (mdata.mod[key].obs_names_make_unique"
                "()) or give both modalities the same cells in the same order."
            )
    pos = other.obs_names.get_indexer(rna.obs_names)
    keep = pos >= 0
    n_shared = int(keep.sum())
    if n_shared == 0:
        raise MinNetInputError(
            f"the RNA and {modality.upper()} modalities share no cells (obs_names), e.g. RNA "
            f"{list(rna.obs_names[:3])} vs {modality.upper()} {list(other.obs_names[:3])}. "
            "Give both modalities the same cell names."
        )
    logger.info("MuData: %d cells in both RNA and %s; dropped %d RNA-only and %d %s-only cells.",
                n_shared, modality.upper(), rna.n_obs - n_shared, other.n_obs - n_shared,
                modality.upper())
    rna_out = rna if n_shared == rna.n_obs else rna[np.flatnonzero(keep)]
    return rna_out, other[pos[keep]]


def _check_is_mudata(obj: object, what: str) -> None:
    if not is_mudata(obj):
        raise MinNetInputError(
            f"{what} must be a MuData object, got {type(obj).__name__}. For AnnData objects, "
            "pass the RNA and the other modality separately."
        )
