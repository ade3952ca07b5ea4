"""The user-facing trained model: embed new data, predict cell types, save and load."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from anndata import AnnData

from . import __version__
from ._utils import MinNetInputError
from .inputs import InputSpec
from .io import ModelFileError, read_model_file, write_model_file
from .module import MinNetModule
from .pp._gene_activity import SETTINGS as GENE_ACTIVITY_SETTINGS
from .pp._scale import Standardizer
from .settings import TrainSettings, setting_groups
from .validation import Modality, check_anndata, check_modality, obs_column

# Genes shared by the data and both training profiles needed before the modality check speaks.
_MIN_SHARED_FOR_CHECK = 20


class MinNetModel:
    """A trained MinNet: two encoders into one 32-d co-embedding.

    Create one with :func:`minnet.train` or :func:`minnet.load`.

    Attributes
    ----------
    inputs
        The fitted :class:`minnet.inputs.InputSpec` of each modality, RNA first.
    labels
        Cell-type categories of the classifier.
    settings
        The run's :class:`minnet.settings.TrainSettings` (``radius`` as resolved).
    summary
        Training summary (epochs run, best epoch, best validation loss and accuracy, history).
    modalities, features, feature_means, annotation, config
        Read-only views: the encoders' modalities in order (``("rna", "atac")`` or
        ``("rna", "adt")``), the features and training means per modality, the ATAC gene
        annotation (or None), and the flat settings dict stored in the model file.
    """

    def __init__(
        self,
        module: MinNetModule,
        inputs: dict[str, InputSpec],
        labels: list[str],
        settings: TrainSettings,
        summary: dict[str, Any] | None = None,
    ) -> None:
        self.module = module.cpu().eval()
        self.inputs = dict(inputs)
        self.labels = list(labels)
        self.settings = settings
        self.summary = dict(summary or {})

    @property
    def modalities(self) -> tuple[str, str]:
        """The encoders' modalities, in order."""
        return tuple(self.inputs)

    @property
    def features(self) -> dict[str, list[str]]:
        """The model's feature names per modality."""
        return {m: list(spec.features) for m, spec in self.inputs.items()}

    @property
    def feature_means(self) -> dict[str, list[float]] | None:
        """Mean normalised value of each feature in the training data, per modality."""
        if any(spec.feature_means is None for spec in self.inputs.values()):
            return None
        return {m: list(spec.feature_means) for m, spec in self.inputs.items()}

    @property
    def annotation(self) -> pd.DataFrame | None:
        """Gene annotation rows of the ATAC features (used to embed ATAC peaks), or None."""
        spec = self.inputs.get("atac")
        return None if spec is None else spec.annotation

    @property
    def config(self) -> dict[str, Any]:
        """Architecture and training settings as one flat dict (as stored in the model file)."""
        out = {**self.settings.flat(stored_only=True), "gene_activity": None, "atac_input": None}
        for spec in self.inputs.values():
            out.update(spec.config_entries())
        return out

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
    def fingerprint(self) -> str:
        """A short hash of the weights, features and cell types: what identifies this model.

        Embeddings record it (``uns["minnet"][key]["model"]``), so that tools can refuse to
        compare embeddings made by different models. Saving and loading keep it.
        """
        h = hashlib.sha256()
        for name, tensor in sorted(self.module.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        h.update(json.dumps([self.modalities, self.features, self.labels]).encode())
        return h.hexdigest()[:16]

    @property
    def history(self) -> pd.DataFrame:
        """Per-epoch training and validation losses."""
        return pd.DataFrame(self.summary.get("history", []))

    def _modality_index(self, modality: Modality) -> int:
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
        modality: Modality,
        layer: str | None = None,
        normalized: bool = False,
        batch_key: str | None = None,
        min_overlap: float = 0.3,
        annotation: pd.DataFrame | str | None = None,
        verify_modality: bool = True,
    ) -> tuple[int, Standardizer, sp.csr_matrix]:
        """Normalise, align and fit per-dataset scaling of ``adata`` for one encoder."""
        check_anndata(adata, "adata")
        m = self._modality_index(modality)
        spec = self.inputs[self.modalities[m]]
        if annotation is not None:
            from .genomics import read_annotation

            annotation = read_annotation(annotation)
        x, names = spec.normalized(adata, layer, normalized, annotation)
        x = spec.align(x, names, min_overlap)
        if verify_modality:
            self._verify_modality(spec.modality, x, names)
        groups = None
        if batch_key is not None:
            groups = obs_column(adata, batch_key, "adata", "batch")
        return m, spec.scaler(x, groups), x

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
        modality: Modality,
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
        modality: Modality,
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
        modality: Modality,
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
            settings = _settings_from_config(config)
            module = MinNetModule(
                (len(features[modalities[0]]), len(features[modalities[1]])),
                len(labels), settings.network.n_hidden, settings.network.n_latent,
            )
            module.load_state_dict(tensors, strict=True)
            ga = config.get("gene_activity")
            if ga is not None and not set(ga) <= set(GENE_ACTIVITY_SETTINGS):
                raise ValueError(f"unknown gene_activity settings {sorted(ga)}")
            means = meta.get("feature_means")
            if means is not None and any(len(means[k]) != len(features[k]) for k in modalities):
                raise ValueError("feature_means do not match the features")
            ann = meta.get("annotation")
            annotation = pd.DataFrame(ann) if ann else None
            inputs = {m: InputSpec.from_model_metadata(
                m, features[m], None if means is None else means[m], config, annotation)
                for m in modalities}
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
            raise ModelFileError(
                f"{str(path)!r}: the model metadata does not match its weights ({err}); the file "
                "was edited or damaged. Re-save the model from its training run."
            ) from None
        return cls(module, inputs, labels, settings, meta.get("summary"))


def _settings_from_config(config: dict[str, Any]) -> TrainSettings:
    """The run's settings from a model file's flat ``config`` (missing ones: defaults)."""
    known = setting_groups()
    return TrainSettings.from_kwargs(**{k: v for k, v in config.items() if k in known})


def load(path: str | os.PathLike) -> MinNetModel:
    """Load a model file written by :meth:`MinNetModel.save`."""
    return MinNetModel.load(path)
