"""The user-facing trained model: embed new data, predict cell types, save and load."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from . import __version__
from ._inputs import check_anndata, looks_like_peaks, modality_matrix
from ._utils import MinNetInputError, logger
from .io import ModelFileError, read_model_file, write_model_file
from .module import MinNetModule
from .pp._features import align_features
from .pp._gene_activity import SETTINGS as GENE_ACTIVITY_SETTINGS
from .pp._normalize import PEAK_TOTALS, check_modality
from .pp._scale import Standardizer

# Genes shared by the data and both training profiles needed before the modality check speaks.
_MIN_SHARED_FOR_CHECK = 20


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then CPU; anything else is passed to torch."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise MinNetInputError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'mps'.") from err


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Temporarily set torch's CPU thread count (``None`` leaves it alone)."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


class MinNetModel:
    """A trained MinNet: two encoders into one 32-d co-embedding.

    Create one with :func:`minnet.train` or :func:`minnet.load`.

    Attributes
    ----------
    modalities
        ``("rna", "atac")`` or ``("rna", "adt")``: the encoders' modalities, in order.
    features
        The model's feature names per modality.
    labels
        Cell-type categories of the classifier.
    config
        Architecture and training hyper-parameters.
    summary
        Training summary (epochs run, best epoch, best validation loss and accuracy, history).
    annotation
        Gene annotation rows of the ATAC features (used to embed ATAC given as peaks), or None.
    feature_means
        Mean normalised value of each feature in the training data, per modality (used to
        notice data given with the wrong ``modality``), or None.
    """

    def __init__(
        self,
        module: MinNetModule,
        modalities: tuple[str, str],
        features: dict[str, list[str]],
        labels: list[str],
        config: dict[str, Any],
        summary: dict[str, Any] | None = None,
        annotation: pd.DataFrame | None = None,
        feature_means: dict[str, list[float]] | None = None,
    ) -> None:
        self.module = module.cpu().eval()
        self.modalities = tuple(modalities)
        self.features = {k: list(v) for k, v in features.items()}
        self.labels = list(labels)
        self.config = dict(config)
        self.summary = dict(summary or {})
        self.annotation = annotation
        self.feature_means = (
            {k: [float(v) for v in vals] for k, vals in feature_means.items()}
            if feature_means else None
        )

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"MinNetModel({self.modalities[0]} + {self.modalities[1]}: "
            f"{len(self.features[self.modalities[0]])} + {len(self.features[self.modalities[1]])} "
            f"features, {len(self.labels)} cell types, hidden {self.config.get('n_hidden')}, "
            f"latent {self.config.get('n_latent')}; best epoch {s.get('best_epoch')} of "
            f"{s.get('epochs_run')}, validation accuracy {s.get('best_val_accuracy', float('nan')):.3f})"
        )

    @property
    def history(self) -> pd.DataFrame:
        """Per-epoch training and validation losses."""
        return pd.DataFrame(self.summary.get("history", []))

    def _modality_index(self, modality: str) -> int:
        mod = check_modality(modality)
        if mod not in self.modalities:
            raise MinNetInputError(
                f"this model was trained on {self.modalities[0]} + {self.modalities[1]}; it cannot "
                f"embed modality {modality!r}. Use modality={self.modalities[0]!r} or "
                f"{self.modalities[1]!r}."
            )
        return self.modalities.index(mod)

    def prepare(
        self,
        adata: AnnData,
        modality: str,
        layer: str | None = None,
        normalized: bool = False,
        batch_key: str | None = None,
        min_overlap: float = 0.3,
        annotation: pd.DataFrame | str | None = None,
        verify_modality: bool = True,
    ) -> tuple[np.ndarray, Standardizer, Any]:
        """Normalise, align and fit per-dataset scaling of ``adata`` for one encoder."""
        check_anndata(adata, "adata")
        m = self._modality_index(modality)
        mod = self.modalities[m]
        if annotation is not None:
            from .genomics import read_annotation

            annotation = read_annotation(annotation)
        x, names = modality_matrix(
            adata, mod, layer, normalized,
            annotation if annotation is not None else self.annotation,
            self.config.get("gene_activity"), what=f"{mod} data",
        )
        if (mod == "atac" and self.config.get("atac_input") == "peaks"
                and not looks_like_peaks(adata.var_names)
                and PEAK_TOTALS not in adata.obs.columns):
            logger.warning(
                "this model computed gene activity from peaks itself (%s); the gene activity "
                "given here was made another way, so its values differ. Pass the peaks, or "
                "minnet.pp.gene_activity(peaks, annotation, **model.config['gene_activity']).",
                ", ".join(f"{k}={v}" for k, v in (self.config.get("gene_activity") or {}).items()))
        x, _ = align_features(x, names, self.features[mod], f"{mod} data", min_overlap)
        if verify_modality:
            self._verify_modality(mod, x, names)
        groups = None
        if batch_key is not None:
            from ._inputs import obs_column

            groups = obs_column(adata, batch_key, "adata", "batch")
        return m, Standardizer.fit(x, groups, self.config.get("max_value", 10.0)), x

    def _verify_modality(self, mod: str, x, names) -> None:
        """Refuse data whose feature profile matches the model's other modality far better.

        RNA and gene activity share gene names, so RNA passed as ``"atac"`` (or the reverse)
        would align without complaint and embed as nonsense. Mean expression across genes is
        a stable fingerprint of a modality: compare the data's with both training profiles on
        the genes the two modalities share.
        """
        if self.feature_means is None:
            return
        other = self.modalities[1 - self.modalities.index(mod)]
        own = pd.Series(self.feature_means[mod], index=self.features[mod])
        theirs = pd.Series(self.feature_means[other], index=self.features[other])
        present = pd.Index(self.features[mod]).isin(pd.Index(names))
        shared = own.index[present].intersection(theirs.index)
        if len(shared) < _MIN_SHARED_FOR_CHECK:
            return
        cols = pd.Index(self.features[mod]).get_indexer(shared)
        data_means = pd.Series(np.asarray(x[:, cols].mean(axis=0)).ravel(), index=shared)
        r_own = data_means.corr(own[shared], method="spearman")
        r_other = data_means.corr(theirs[shared], method="spearman")
        if np.isfinite(r_other) and r_other > 0.5 and r_other - np.nan_to_num(r_own) > 0.3:
            raise MinNetInputError(
                f"these data were given as modality={mod!r} but look like {other} data: across "
                f"the {len(shared)} genes both modalities share, their mean profile correlates "
                f"{r_other:.2f} with the model's {other} training data and {r_own:.2f} with its "
                f"{mod} training data. Pass modality={other!r}, or verify_modality=False if the "
                "data really are of this modality."
            )

    @torch.no_grad()
    def _forward(self, m: int, st: Standardizer, x, what: str, chunk: int = 4096):
        self.module.eval()
        zs, ps = [], []
        for start in range(0, x.shape[0], chunk):
            rows = np.arange(start, min(start + chunk, x.shape[0]))
            z, logits = self.module(torch.from_numpy(st.transform_rows(x, rows)), m)
            zs.append(z.numpy())
            ps.append(torch.softmax(logits, dim=1).numpy())
        return np.concatenate(zs).astype(np.float32), np.concatenate(ps).astype(np.float32)

    def embed(
        self,
        adata: AnnData,
        modality: str,
        layer: str | None = None,
        normalized: bool = False,
        batch_key: str | None = None,
        min_overlap: float = 0.3,
        annotation: pd.DataFrame | str | None = None,
        verify_modality: bool = True,
    ) -> np.ndarray:
        """Co-embedding of (unpaired) cells of one modality.

        Parameters
        ----------
        adata
            Cells to embed (not modified). Raw counts in ``.X`` or ``layer``; ATAC may be peaks
            (gene activity is computed with the model's annotation) or gene activity.
        modality
            ``"rna"``, ``"atac"`` or ``"adt"``; must be one of the model's modalities.
        layer
            Layer with the raw counts; ``None`` uses ``.X``.
        normalized
            Set when the data are already log-normalised (RNA, gene activity) / CLR (ADT).
        batch_key
            Optional ``obs`` column: each batch is scaled on its own statistics (otherwise the
            whole object is scaled as one dataset).
        min_overlap
            Smallest fraction of the model's features that must be present.
        annotation
            Gene TSS table to turn ATAC peaks into gene activity; by default the one stored in
            the model at training (present when the model was trained on peaks).
        verify_modality
            Refuse data that look like the model's other modality (RNA given as gene activity
            or the reverse), judged from the mean profile over the genes both share.

        Returns
        -------
        ``n_cells × n_latent`` float32 array, rows in the order of ``adata``.
        """
        m, st, x = self.prepare(adata, modality, layer, normalized, batch_key, min_overlap,
                                annotation, verify_modality)
        return self._forward(m, st, x, modality)[0]

    def class_probabilities(
        self,
        adata: AnnData,
        modality: str,
        layer: str | None = None,
        normalized: bool = False,
        batch_key: str | None = None,
        verify_modality: bool = True,
    ) -> np.ndarray:
        """The classifier's probabilities, cells × ``self.labels`` (rows sum to 1)."""
        m, st, x = self.prepare(adata, modality, layer, normalized, batch_key,
                                verify_modality=verify_modality)
        return self._forward(m, st, x, modality)[1]

    def predict_labels(
        self,
        adata: AnnData,
        modality: str,
        layer: str | None = None,
        normalized: bool = False,
        batch_key: str | None = None,
        verify_modality: bool = True,
    ) -> pd.DataFrame:
        """Cell types from the network's own classifier: columns ``label`` and ``probability``."""
        prob = self.class_probabilities(adata, modality, layer, normalized, batch_key,
                                        verify_modality)
        best = prob.argmax(axis=1)
        return pd.DataFrame(
            {"label": pd.Categorical(np.asarray(self.labels)[best], categories=self.labels),
             "probability": prob[np.arange(len(best)), best]},
            index=adata.obs_names.copy(),
        )

    # --- persistence -----------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        ann = None
        if self.annotation is not None:
            ann = {c: self.annotation[c].tolist() for c in self.annotation.columns}
        return {
            "package_version": __version__,
            "modalities": list(self.modalities),
            "features": self.features,
            "labels": self.labels,
            "config": self.config,
            "summary": self.summary,
            "annotation": ann,
            "feature_means": self.feature_means,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Save to one file (safetensors + JSON metadata), atomically: temp file + rename."""
        write_model_file(path, self.module.state_dict(), self._metadata())

    @classmethod
    def load(cls, path: str | os.PathLike) -> MinNetModel:
        """Load a model saved with :meth:`save`; never executes code from the file."""
        tensors, meta = read_model_file(path)
        try:
            modalities = tuple(meta["modalities"])
            features = meta["features"]
            labels = meta["labels"]
            config = meta["config"]
            module = MinNetModule(
                (len(features[modalities[0]]), len(features[modalities[1]])),
                len(labels), int(config["n_hidden"]), int(config["n_latent"]),
            )
            module.load_state_dict(tensors, strict=True)
            ga = config.get("gene_activity")
            if ga is not None and not set(ga) <= set(GENE_ACTIVITY_SETTINGS):
                raise ValueError(f"unknown gene_activity settings {sorted(ga)}")
            means = meta.get("feature_means")
            if means is not None and any(len(means[k]) != len(features[k]) for k in modalities):
                raise ValueError("feature_means do not match the features")
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
            raise ModelFileError(
                f"{str(path)!r}: the model metadata does not match its weights ({err}); the file "
                "was edited or damaged. Re-save the model from its training run."
            ) from None
        ann = meta.get("annotation")
        annotation = pd.DataFrame(ann) if ann else None
        return cls(module, modalities, features, labels, config, meta.get("summary"), annotation,
                   means)


def load(path: str | os.PathLike) -> MinNetModel:
    """Load a model file written by :meth:`MinNetModel.save`."""
    return MinNetModel.load(path)
