"""Typed settings: one default per setting, the resume rule on the field, one source for all."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import minnet
from minnet import MinNetInputError
from minnet.settings import (
    GeneActivitySettings,
    LossSettings,
    TrainSettings,
    defaults,
    resume_keys,
    setting_groups,
)


def test_train_signature_defaults_come_from_the_settings():
    sig = inspect.signature(minnet.train)
    flat = TrainSettings().flat()
    assert set(flat) <= set(sig.parameters)
    for name, value in flat.items():
        assert sig.parameters[name].default == value, name


def test_every_setting_name_is_unique_across_groups():
    names = [f.name for g in dataclasses.fields(TrainSettings)
             for f in dataclasses.fields(g.type if not isinstance(g.type, str)
                                         else getattr(minnet.settings, g.type))]
    assert len(names) == len(set(names)) == len(setting_groups())


def test_resume_rule_is_a_property_of_the_field():
    # the run-defining settings; lr, epochs, batch size, patience may change on resume
    assert set(resume_keys()) == {
        "n_hidden", "n_latent", "margin", "contrastive_weight", "celltype_margin", "negatives",
        "positive_fraction", "validation_fraction", "n_neighbors", "n_pcs", "batch_correction",
        "n_top_features", "max_value", "seed", "label_key", "batch_key", "peak_input", "validation_split",
        "class_balance", "n_lsi_components", "n_networks"}
    assert not {"lr", "epochs", "batch_size", "patience", "device"} & set(resume_keys())


def test_settings_are_frozen_and_validated():
    s = TrainSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.loss.margin = 3.0  # type: ignore[misc]
    with pytest.raises(MinNetInputError, match="negatives must be"):
        LossSettings(negatives="some")
    with pytest.raises(MinNetInputError, match="epochs must be an integer >= 1"):
        TrainSettings.from_kwargs(epochs=2.5)
    with pytest.raises(MinNetInputError, match="unknown training setting 'lr_rate'"):
        TrainSettings.from_kwargs(lr_rate=1.0)


def test_flat_round_trip_and_stored_fields():
    s = TrainSettings.from_kwargs(margin=1.5, epochs=7, device="cpu", seed=4)
    assert TrainSettings.from_kwargs(**s.flat()) == s
    stored = s.flat(stored_only=True)
    assert stored["margin"] == 1.5 and stored["seed"] == 4
    assert not {"device", "n_threads", "progress"} & set(stored)
    assert s.replace(radius=2.5).graph.radius == 2.5 and s.graph.radius == "auto"


def test_gene_activity_settings_from_user_keywords():
    assert GeneActivitySettings.from_kwds(None) == GeneActivitySettings()
    assert GeneActivitySettings.from_kwds({"distance": 0}).as_dict() == {
        "upstream": 2000, "gene_body": True, "distance": 0, "decay": 5000}
    with pytest.raises(MinNetInputError, match="unknown keys"):
        GeneActivitySettings.from_kwds({"window": 1})
    assert defaults()["gene_activity"] == GeneActivitySettings().as_dict()


def test_model_config_is_the_stored_settings(small_model):
    cfg = small_model.config
    assert {k: cfg[k] for k in small_model.settings.flat(stored_only=True)} == \
        small_model.settings.flat(stored_only=True)
    assert cfg["atac_input"] == "peaks" and cfg["gene_activity"] == GeneActivitySettings().as_dict()
