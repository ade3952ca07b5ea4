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
    OptimSettings,
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


def test_auto_batch_size_grows_with_the_cells_and_lr_with_its_square_root():
    auto = OptimSettings()
    assert auto.resolved(6_000) == {"batch_size": 64, "lr": 1e-3, "epochs": 60}  # as before
    assert auto.resolved(49_999)["batch_size"] == 64
    assert auto.resolved(50_000)["batch_size"] == 128
    assert auto.resolved(100_000) == {"batch_size": 256, "lr": pytest.approx(2e-3),
                                      "epochs": 15}
    assert auto.resolved(10**6) == {"batch_size": 1024, "lr": pytest.approx(4e-3), "epochs": 5}
    assert [auto.resolved(n)["epochs"] for n in (25_000, 25_001, 50_000, 300_000)] == \
        [60, 60, 30, 5]
    # distributed: "auto" is the global mini-batch, split over the ranks, lr as one process
    assert auto.resolved(10**6, world_size=2) == {"batch_size": 512, "lr": pytest.approx(4e-3),
                                                  "epochs": 5}
    # numbers stay as given (per rank); lr "auto" follows the global batch, never below 1e-3
    assert OptimSettings(batch_size=32, epochs=7).resolved(10**6) == {
        "batch_size": 32, "lr": 1e-3, "epochs": 7}
    assert OptimSettings(batch_size=256, lr=5e-4).resolved(10) == {"batch_size": 256,
                                                                   "lr": 5e-4, "epochs": 60}
    assert OptimSettings(batch_size=128).resolved(10, world_size=2)["lr"] == pytest.approx(2e-3)
    for bad in (0, 2.5, "big"):
        with pytest.raises(MinNetInputError, match="batch_size"):
            OptimSettings(batch_size=bad)
    with pytest.raises(MinNetInputError, match="lr"):
        OptimSettings(lr="fast")


def test_the_model_stores_the_batch_size_and_lr_it_trained_with(small_model):
    assert small_model.config["batch_size"] == 64 and small_model.config["lr"] == 1e-3
    assert isinstance(small_model.config["epochs"], int)
