"""Every reusable input check of MinNet, in one place.

Each check raises :class:`minnet.MinNetInputError` with a message that names the problem and
the fix, and returns the validated value (converted where that helps: an ``int``, a ``float``,
a lower-cased choice). The ``Literal`` types below are the fixed choices of public arguments;
the tuples next to them are derived from the types, so the two cannot drift apart.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from ._utils import MinNetInputError

__all__ = [
    "BATCH_CORRECTIONS",
    "BatchCorrection",
    "MODALITIES",
    "NEGATIVE_MODES",
    "Modality",
    "Negatives",
    "check_anndata",
    "check_choice",
    "check_columns",
    "check_counts",
    "check_finite",
    "check_finite_nonnegative",
    "check_group_sizes",
    "check_int",
    "check_is_anndata",
    "check_key",
    "check_modality",
    "check_negatives",
    "check_no_missing_strings",
    "check_number",
    "check_same_model",
    "check_same_obs",
    "check_seed",
    "check_unique_names",
    "embedding_model",
    "embedding_record",
    "obs_column",
]

#: A modality MinNet pairs with RNA: ``"atac"`` (gene activity or peaks), ``"adt"`` (proteins).
Modality = Literal["rna", "atac", "adt"]
MODALITIES: tuple[str, ...] = get_args(Modality)

#: How negative pairs are drawn (see :func:`minnet.pairs.sample_pairs`).
Negatives = Literal["between", "within", "both"]
NEGATIVE_MODES: tuple[str, ...] = get_args(Negatives)

#: How the RNA graph is batch-corrected (see :func:`minnet.graph.build_rna_graph`).
BatchCorrection = Literal["combat", "harmony", "none"]
BATCH_CORRECTIONS: tuple[str, ...] = get_args(BatchCorrection)

_RAW_COUNTS_FIX = (
    "pass raw counts (or a counts layer via layer=), or set normalized=True for "
    "already-normalised data"
)


# --------------------------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------------------------
def check_int(value: object, name: str, minimum: int, *, allow_float: bool = False) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``.

    Parameters
    ----------
    value
        The argument to check. Python and NumPy integers are accepted, ``bool`` never is.
    name
        The argument's name, used in the message.
    minimum
        Smallest accepted value.
    allow_float
        Also accept integer-valued floats such as ``2000.0`` (base-pair distances).

    Returns
    -------
    int
        ``int(value)``.

    Raises
    ------
    MinNetInputError
        If ``value`` is not an integer or is below ``minimum``.
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if allow_float and isinstance(value, float | np.floating) and float(value).is_integer():
        ok = True
    if not ok or int(value) < minimum:
        wanted = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise MinNetInputError(f"{name} must be {wanted}, got {value!r}.")
    return int(value)


def check_seed(seed: object) -> int:
    """Return a random seed as an ``int``; it must be a non-negative integer.

    Raises
    ------
    MinNetInputError
        If ``seed`` is not an integer ``>= 0``.
    """
    return check_int(seed, "seed", 0)


def check_number(
    value: object,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    *,
    description: str | None = None,
) -> float:
    """Return ``value`` as a finite ``float`` inside an interval.

    Parameters
    ----------
    value
        The argument to check; real numbers only (not ``bool``, not strings).
    name
        The argument's name, used in the message.
    low, high
        Interval bounds.
    low_open, high_open
        Whether the bound itself is excluded.
    description
        What the value must be, for the message (e.g. ``"a positive number of bp"``); the
        default names the interval.

    Returns
    -------
    float
        ``float(value)``.

    Raises
    ------
    MinNetInputError
        If ``value`` is not a real number, is NaN or infinite, or lies outside the interval.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    if ok and math.isfinite(v):
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    else:
        ok = False
    if not ok:
        if description is None:
            interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            description = f"a finite number in {interval}"
        raise MinNetInputError(f"{name} must be {description}, got {value!r}.")
    return v


def check_choice(
    value: object,
    name: str,
    choices: Sequence[str],
    *,
    ignore_case: bool = False,
    hint: str = "",
) -> str:
    """Return ``value`` if it is one of a fixed set of strings.

    Parameters
    ----------
    value
        The argument to check.
    name
        The argument's name, used in the message.
    choices
        The accepted strings (lower-case when ``ignore_case``).
    ignore_case
        Compare ``value.lower()`` and return it lower-cased.
    hint
        A sentence appended to the message (e.g. what each choice means).

    Returns
    -------
    str
        The matching choice.

    Raises
    ------
    MinNetInputError
        If ``value`` is not a string among ``choices``; the message lists them.
    """
    key = value.lower() if ignore_case and isinstance(value, str) else value
    if not isinstance(value, str) or key not in choices:
        quoted = [repr(c) for c in choices]
        listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        raise MinNetInputError(
            f"{name} must be {listed}, got {value!r}." + (f" {hint}" if hint else "")
        )
    return key


def check_modality(modality: object) -> Modality:
    """Return a modality name, lower-cased; it must be ``"rna"``, ``"atac"`` or ``"adt"``.

    Raises
    ------
    MinNetInputError
        For any other value; the message says what each modality means.
    """
    return check_choice(
        modality, "modality", MODALITIES, ignore_case=True,
        hint="('atac' means gene activity or ATAC peaks, 'adt' means CITE-seq proteins.)",
    )


def check_negatives(negatives: object) -> Negatives:
    """Return how negative pairs are drawn: ``"between"``, ``"within"`` or ``"both"``.

    Raises
    ------
    MinNetInputError
        For any other value.
    """
    return check_choice(negatives, "negatives", NEGATIVE_MODES)


def check_key(value: object, name: str) -> str:
    """Return an ``obsm`` / ``uns`` key that an h5ad file can store and read back.

    h5ad keys are HDF5 paths: ``"/"`` nests groups (``"X/evil/../../x"`` writes a file that
    cannot be read back), ``"."`` is the group itself and a NUL byte ends the name.

    Parameters
    ----------
    value
        The key to check.
    name
        The argument's name, used in the message (``key_added``, ``--key-added``).

    Returns
    -------
    str
        ``value``.

    Raises
    ------
    MinNetInputError
        If ``value`` is not a non-empty string, contains ``"/"`` or a NUL byte, or is ``"."``.
    """
    if not isinstance(value, str) or not value or "/" in value or "\0" in value or value == ".":
        raise MinNetInputError(
            f"{name} must be a non-empty string without '/' (nor '.' alone or a NUL byte): an "
            f"h5ad file cannot store such a key and could not be read back; got {value!r}. Use "
            "e.g. 'X_minnet'."
        )
    return value


# --------------------------------------------------------------------------------------------
# Matrices
# --------------------------------------------------------------------------------------------
def _values(x: object, what: str) -> np.ndarray:
    """The stored values of a dense or sparse matrix, checked to be real numbers (or bool)."""
    data = x.data if sp.issparse(x) else np.asarray(x)
    if data.size and data.dtype.kind not in "biuf":
        raise MinNetInputError(
            f"{what} must hold real numbers, got dtype {data.dtype}; convert it, e.g. with "
            "x.astype(np.float32)."
        )
    return data


def check_finite(x: object, what: str, fix: str = "remove or impute them first") -> None:
    """Raise unless a dense or sparse matrix holds only finite real numbers.

    Parameters
    ----------
    x
        Dense array or SciPy sparse matrix (only the stored values of a sparse one are read).
    what
        Name of the matrix, used in the message.
    fix
        What the user should do about NaN / infinite values, for the message.

    Raises
    ------
    MinNetInputError
        If the values are not real numbers or any is NaN or infinite.
    """
    data = _values(x, what)
    if data.size and data.dtype.kind == "f":  # integers and bools are always finite
        finite = np.isfinite(data)
        if not finite.all():
            n_bad = int(data.size - np.count_nonzero(finite))
            raise MinNetInputError(f"{what} contains {n_bad} NaN or infinite value(s); {fix}.")


def check_counts(
    x: object,
    what: str,
    *,
    expected: str = "raw counts",
    fix: str = _RAW_COUNTS_FIX,
    finite_fix: str = "remove or impute them before MinNet",
) -> None:
    """Raise unless a dense or sparse matrix holds finite, non-negative numbers (counts).

    Parameters
    ----------
    x
        Dense array or SciPy sparse matrix.
    what
        Name of the matrix, used in the messages.
    expected
        What the matrix should hold, for the message (``"raw counts"``).
    fix
        What to pass instead when values are negative.
    finite_fix
        What to do about NaN / infinite values.

    Raises
    ------
    MinNetInputError
        If values are not real numbers, not finite, or negative.
    """
    check_finite(x, what, finite_fix)
    data = _values(x, what)
    if data.size and data.dtype.kind in "if" and data.min() < 0:
        raise MinNetInputError(
            f"{what} contains negative values but {expected} were expected; {fix}."
        )


def check_finite_nonnegative(x: object, what: str, allow_negative: bool = False) -> None:
    """Raw counts (finite, non-negative) or, with ``allow_negative``, normalised values (finite).

    Kept for its callers; new code calls :func:`check_counts` or :func:`check_finite`.
    """
    if allow_negative:
        check_finite(x, what, "remove or impute them before MinNet")
    else:
        check_counts(x, what)


# --------------------------------------------------------------------------------------------
# AnnData and tables
# --------------------------------------------------------------------------------------------
def check_is_anndata(adata: object, what: str) -> AnnData:
    """Return ``adata`` if it is an AnnData object.

    Raises
    ------
    MinNetInputError
        Otherwise; the message says how to get one.
    """
    if not isinstance(adata, AnnData):
        raise MinNetInputError(
            f"{what} must be an AnnData object, got {type(adata).__name__}. From Seurat, use the "
            "R package's functions; from files, anndata.read_h5ad()."
        )
    return adata


def check_unique_names(
    names: Sequence[str], what: str, kind: Literal["feature", "cell"] = "feature"
) -> None:
    """Raise when names are duplicated (AnnData allows it; MinNet cannot align them).

    Parameters
    ----------
    names
        Cell or feature names.
    what
        Name of the object, used in the message.
    kind
        ``"feature"`` (``var_names``) or ``"cell"`` (``obs_names``): picks the suggested fix.
    """
    idx = pd.Index(names)
    if not idx.is_unique:
        dups = idx[idx.duplicated()].unique()[:5].tolist()
        fix = f"adata.{'var' if kind == 'feature' else 'obs'}_names_make_unique()"
        raise MinNetInputError(
            f"{what} has {int(idx.duplicated().sum())} duplicated {kind} names (e.g. {dups}); "
            f"make them unique first, e.g. with {fix}."
        )


def check_anndata(adata: object, what: str) -> AnnData:
    """Return ``adata`` if it is a non-empty AnnData with unique cell and feature names.

    Raises
    ------
    MinNetInputError
        If it is not an AnnData, has no cells or no features, or has duplicated names.
    """
    adata = check_is_anndata(adata, what)
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise MinNetInputError(f"{what} is empty ({adata.n_obs} cells × {adata.n_vars} features).")
    check_unique_names(adata.obs_names, what, kind="cell")
    check_unique_names(adata.var_names, what, kind="feature")
    return adata


def obs_column(adata: AnnData, key: str, what: str, role: str) -> np.ndarray:
    """A per-cell column of ``adata.obs`` as strings.

    Parameters
    ----------
    adata
        The object holding the column.
    key
        Column name.
    what
        Name of the object, used in messages.
    role
        What the column is for (``"label"``, ``"batch"``), used in messages.

    Returns
    -------
    numpy.ndarray
        The column's values as ``str``.

    Raises
    ------
    MinNetInputError
        If the column is absent or has missing values.
    """
    if key not in adata.obs.columns:
        cols = list(adata.obs.columns)[:20]
        raise MinNetInputError(
            f"{role} column {key!r} is not in {what}.obs; available columns: {cols}."
        )
    col = adata.obs[key]
    missing = col.isna().to_numpy()
    if missing.any():
        raise MinNetInputError(
            f"{what}.obs[{key!r}] has {int(missing.sum())} missing values; fill or drop those "
            "cells first."
        )
    return col.astype(str).to_numpy()


# strings that stand for a missing value once a column with NaN / None went through astype(str)
_MISSING_STRINGS = frozenset({"", "nan", "none", "null", "na", "<na>", "n/a", "nat"})


def check_no_missing_strings(values: np.ndarray, what: str, key: str, role: str) -> None:
    """Raise when a per-cell column holds strings that mean "missing" (``'nan'``, ``''`` ...).

    ``obs_column`` refuses real NaN; a column converted with ``.astype(str)`` before it reached
    MinNet turns them into ``'nan'`` / ``'None'``, which would silently become a class (or a
    batch) of their own.

    Parameters
    ----------
    values
        The column's values as strings (e.g. from :func:`obs_column`).
    what, key
        Object and column name, used in the message (``rna.obs['cell_type']``).
    role
        What the column is for (``"label"``, ``"batch"``), used in the message.

    Raises
    ------
    MinNetInputError
        Naming how many cells hold which missing-looking value and how to drop them.
    """
    col = pd.Series(np.asarray(values, dtype=object)).astype(str)
    bad = col.str.strip().str.lower().isin(_MISSING_STRINGS).to_numpy()
    if bad.any():
        seen = col[bad].value_counts()
        listed = ", ".join(f"{v!r}: {n}" for v, n in seen.items())
        raise MinNetInputError(
            f"{what}.obs[{key!r}] has {int(bad.sum())} cell(s) whose {role} means missing "
            f"({listed}); they were probably NaN or None before a conversion to str, and would "
            f"be trained as a {role} of their own. Drop the cells whose {role} is one of "
            f"{list(seen.index)} first, or give them a real {role} (e.g. 'unassigned') if they "
            "form a group."
        )


def check_group_sizes(values: np.ndarray, what: str, key: str, role: str,
                      minimum: int = 2) -> None:
    """Raise when some groups of a per-cell column (batches) have fewer than ``minimum`` cells.

    Parameters
    ----------
    values
        Each cell's group.
    what, key
        Object and column name, used in the message.
    role
        What the groups are (``"batch"``), used in the message.
    minimum
        Smallest number of cells a group must hold.

    Raises
    ------
    MinNetInputError
        Naming the small groups and how to merge or drop them.
    """
    sizes = pd.Series(np.asarray(values, dtype=object)).value_counts()
    small = sizes[sizes < minimum]
    if len(small):
        listed = ", ".join(f"{g!r} ({n} cell{'s' if n != 1 else ''})"
                           for g, n in small.iloc[:5].items())
        raise MinNetInputError(
            f"{what}.obs[{key!r}] has {len(small)} {role} group(s) with fewer than {minimum} cells: "
            f"{listed}. A {role} must hold at least {minimum} cells to be corrected and scaled "
            f"on its own (a single cell's statistics are undefined). Merge it into another "
            f"{role}, or drop those cells."
        )


def check_same_obs(first: AnnData, second: AnnData, names: tuple[str, str], unit: str,
                   fix: str) -> np.ndarray:
    """Positions of ``first``'s ``obs_names`` in ``second``; both must hold exactly the same.

    Parameters
    ----------
    first, second
        Objects that must describe the same cells (or mini-bulks), in any order.
    names
        How the message calls the two objects.
    unit
        What the rows are (``"cells"``, ``"mini-bulks"``).
    fix
        The sentence that tells the user what to do.

    Returns
    -------
    numpy.ndarray
        ``second.obs_names.get_indexer(first.obs_names)``.

    Raises
    ------
    MinNetInputError
        Naming how many rows only one object holds, with examples.
    """
    if first.n_obs != second.n_obs or not first.obs_names.isin(second.obs_names).all():
        only_1 = first.obs_names.difference(second.obs_names)
        only_2 = second.obs_names.difference(first.obs_names)
        raise MinNetInputError(
            f"{names[0]} and {names[1]} must hold the same {unit} (matched by obs_names): "
            f"{len(only_1)} only in {names[0]} (e.g. {list(only_1[:3])}), {len(only_2)} only "
            f"in {names[1]} (e.g. {list(only_2[:3])}). {fix}"
        )
    return second.obs_names.get_indexer(first.obs_names)


def embedding_record(adata: AnnData, use_rep: str) -> dict:
    """What :func:`minnet.tl.embed` recorded about ``adata.obsm[use_rep]`` (modality, model
    fingerprint, scaling) in ``uns["minnet"]``; empty when nothing was recorded."""
    info = adata.uns.get("minnet")
    entry = info.get(use_rep) if isinstance(info, dict) else None
    return dict(entry) if isinstance(entry, dict) else {}


def embedding_model(adata: AnnData, use_rep: str) -> str | None:
    """The fingerprint of the model that made ``adata.obsm[use_rep]`` (None when unrecorded)."""
    model = embedding_record(adata, use_rep).get("model")
    return str(model) if model is not None else None


def check_same_model(adatas: dict[str, AnnData], use_rep: str, check_model: bool = True) -> None:
    """Refuse co-embeddings of several objects that different models made.

    Each :func:`minnet.tl.embed` records its model's fingerprint in
    ``uns["minnet"][key_added]["model"]``; objects without one (embedded elsewhere, or by an
    older minnet) are not checked.

    Parameters
    ----------
    adatas
        The objects by the name the message uses.
    use_rep
        The ``obsm`` key of the co-embedding.
    check_model
        ``False`` turns the error into a warning (for users who know the two models share
        their space, e.g. a checkpoint and the final model).

    Raises
    ------
    MinNetInputError
        When two recorded fingerprints differ and ``check_model`` is True.
    """
    seen = {name: embedding_model(a, use_rep) for name, a in adatas.items()}
    seen = {name: fp for name, fp in seen.items() if fp is not None}
    if len(set(seen.values())) <= 1:
        return
    listed = ", ".join(f"{name} by {fp}" for name, fp in seen.items())
    message = (f"obsm[{use_rep!r}] was made by different models ({listed}): their spaces are "
               "not comparable. Embed all objects with the same model (minnet.tl.embed)")
    if check_model:
        raise MinNetInputError(message + ", or pass check_model=False if you are sure.")
    from ._utils import logger

    logger.warning("%s; going on because check_model=False.", message)


def check_columns(
    df: pd.DataFrame, columns: Sequence[str], what: str, *, qualifier: str = "", hint: str = ""
) -> None:
    """Raise when a table lacks some of ``columns``.

    Parameters
    ----------
    df
        The table.
    columns
        Columns it must have.
    what
        Name of the table, used in the message.
    qualifier
        Word before "column(s)" in the message (e.g. ``"required"``).
    hint
        A sentence appended to the message (e.g. how to rename the columns).
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        kind = f"{qualifier} column(s)" if qualifier else "column(s)"
        raise MinNetInputError(
            f"{what} is missing {kind} {missing}; it has columns {list(df.columns)}."
            + (f" {hint}" if hint else "")
        )
