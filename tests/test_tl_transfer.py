"""Distance-weighted KNN label transfer."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import minnet
from minnet import MinNetInputError
from minnet.tl import transfer_labels
from minnet.tl._transfer import knn_vote


def _obj(z, labels=None):
    a = ad.AnnData(X=np.zeros((len(z), 1), dtype=np.float32))
    a.obsm["X_minnet"] = np.asarray(z, dtype=np.float32)
    if labels is not None:
        a.obs["cell_type"] = pd.Categorical(labels)
    return a


def test_knn_vote_weights_and_confidence():
    ref = np.array([[0.0], [0.1], [10.0]])
    lab = np.array(["A", "A", "B"])
    pred, conf = knn_vote(ref, lab, np.array([[0.05], [9.9]]), n_neighbors=3)
    assert list(pred) == ["A", "B"]
    assert conf[0] > 0.8 and conf[1] > 0.5
    # one neighbour: full confidence
    _, conf1 = knn_vote(ref, lab, np.array([[0.05]]), n_neighbors=1)
    assert conf1[0] == pytest.approx(1.0)


def test_transfer_on_blobs_and_copy():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [8, 0], [0, 8]])
    lab = np.repeat(["a", "b", "c"], 50)
    ref = _obj(centers[np.repeat([0, 1, 2], 50)] + rng.normal(size=(150, 2)), lab)
    qlab = np.repeat(["a", "b", "c"], 20)
    qry = _obj(centers[np.repeat([0, 1, 2], 20)] + rng.normal(size=(60, 2)))
    out = transfer_labels(ref, qry, "cell_type", n_neighbors=10)
    assert "cell_type_pred" not in qry.obs  # query not modified by default
    assert (out.obs["cell_type_pred"].astype(str).to_numpy() == qlab).mean() > 0.95
    conf = out.obs["cell_type_confidence"]
    assert ((conf > 0) & (conf <= 1)).all()
    assert transfer_labels(ref, qry, "cell_type", copy=False, key_added="ct") is None
    assert "ct_pred" in qry.obs and "ct_confidence" in qry.obs


def test_permuting_query_permutes_result():
    rng = np.random.default_rng(1)
    ref = _obj(rng.normal(size=(80, 3)), rng.choice(["x", "y"], 80))
    q = rng.normal(size=(30, 3))
    perm = rng.permutation(30)
    a = transfer_labels(ref, _obj(q), "cell_type").obs
    b = transfer_labels(ref, _obj(q[perm]), "cell_type").obs
    np.testing.assert_array_equal(a["cell_type_pred"].astype(str).to_numpy()[perm],
                                  b["cell_type_pred"].astype(str).to_numpy())


def test_unassigned_below_confidence():
    rng = np.random.default_rng(2)
    ref = _obj(rng.normal(size=(100, 2)), rng.choice(["x", "y"], 100))  # labels are noise
    out = transfer_labels(ref, _obj(rng.normal(size=(50, 2))), "cell_type", min_confidence=0.9)
    pred = out.obs["cell_type_pred"].astype(str)
    conf = out.obs["cell_type_confidence"]
    assert (pred[conf < 0.9] == "unassigned").all() and (pred == "unassigned").any()


def test_transfer_errors():
    ref = _obj(np.zeros((5, 2)), list("aabbb"))
    with pytest.raises(MinNetInputError, match="minnet.tl.embed"):
        transfer_labels(ref, ad.AnnData(X=np.zeros((3, 1))), "cell_type")
    with pytest.raises(MinNetInputError, match="'label' is not in reference.obs"):
        transfer_labels(ref, _obj(np.zeros((3, 2))), "label")
    with pytest.raises(MinNetInputError, match="width"):
        transfer_labels(ref, _obj(np.zeros((3, 4))), "cell_type")


def test_query_class_missing_from_reference_warns(caplog):
    rng = np.random.default_rng(1)
    ref = _obj(rng.normal(size=(30, 2)), ["A"] * 15 + ["B"] * 15)
    qry = _obj(rng.normal(size=(10, 2)), ["A"] * 5 + ["Z"] * 5)  # Z only in the query
    out = transfer_labels(ref, qry, "cell_type", n_neighbors=5)
    assert "absent from the reference" in caplog.text and "['Z']" in caplog.text
    assert set(out.obs["cell_type_pred"].astype(str)) <= {"A", "B"}
    pd.testing.assert_series_equal(out.obs["cell_type"], qry.obs["cell_type"])  # kept as is


# ------------------------------------------------------------------ blend with the classifier
@pytest.fixture(scope="module")
def embedded_pair(small_model, sim, sim_split):
    import minnet

    held = ~sim_split
    rna = minnet.tl.embed(small_model, sim.rna[held], "rna")
    atac = minnet.tl.embed(small_model, sim.atac[held], "atac")
    return rna, atac


def test_blend_ends_are_the_vote_and_the_classifier(small_model, embedded_pair):
    rna, atac = embedded_pair
    vote = transfer_labels(rna, atac, "cell_type")
    w0 = transfer_labels(rna, atac, "cell_type", model=small_model, modality="atac",
                         head_weight=0.0)
    assert (w0.obs["cell_type_pred"].astype(str) == vote.obs["cell_type_pred"].astype(str)).all()
    np.testing.assert_allclose(w0.obs["cell_type_confidence"], vote.obs["cell_type_confidence"],
                               rtol=1e-6)
    w1 = transfer_labels(rna, atac, "cell_type", model=small_model, modality="atac",
                         head_weight=1.0)
    head = small_model.predict_labels(atac, "atac")
    assert (w1.obs["cell_type_pred"].astype(str) == head["label"].astype(str)).all()
    np.testing.assert_allclose(w1.obs["cell_type_confidence"], head["probability"], rtol=1e-5)
    half = transfer_labels(rna, atac, "cell_type", model=small_model, modality="atac")
    conf = half.obs["cell_type_confidence"].to_numpy()
    assert ((conf > 0) & (conf <= 1 + 1e-6)).all()
    # where vote and classifier agree, the blend agrees with both
    agree = (vote.obs["cell_type_pred"].astype(str).to_numpy()
             == head["label"].astype(str).to_numpy())
    assert agree.any()
    assert (half.obs["cell_type_pred"].astype(str).to_numpy()[agree]
            == head["label"].astype(str).to_numpy()[agree]).all()
    assert "cell_type_pred" not in atac.obs  # the caller's object is untouched


def test_blend_errors(small_model, embedded_pair):
    rna, atac = embedded_pair
    with pytest.raises(MinNetInputError, match="needs modality="):
        transfer_labels(rna, atac, "cell_type", model=small_model)
    with pytest.raises(MinNetInputError, match="must be a MinNetModel"):
        transfer_labels(rna, atac, "cell_type", model="model.safetensors", modality="atac")
    with pytest.raises(MinNetInputError, match="head_weight must be a finite number"):
        transfer_labels(rna, atac, "cell_type", model=small_model, modality="atac",
                        head_weight=1.5)
    other = rna.copy()
    other.obs["cell_type"] = pd.Categorical(["x", "y"] * (other.n_obs // 2)
                                            + ["x"] * (other.n_obs % 2))
    with pytest.raises(MinNetInputError, match="the classifier cannot vote"):
        transfer_labels(other, atac, "cell_type", model=small_model, modality="atac")


def test_embeddings_of_two_models_are_refused(small_model, sim, sim_split):
    rna_q, atac_q = sim.rna[~sim_split][:150], sim.atac[~sim_split][:150]
    other_model = minnet.train(sim.rna[sim_split][:300], sim.atac[sim_split][:300], "atac",
                               annotation=sim.annotation, epochs=1, n_hidden=16, progress=False)
    ref = minnet.tl.embed(small_model, rna_q, "rna")
    same = minnet.tl.embed(small_model, atac_q, "atac")
    other = minnet.tl.embed(other_model, atac_q, "atac")
    assert ref.uns["minnet"]["X_minnet"]["model"] == small_model.fingerprint
    assert small_model.fingerprint != other_model.fingerprint
    minnet.tl.transfer_labels(ref, same, "cell_type")  # the same model: fine
    with pytest.raises(MinNetInputError, match="made by different models.*check_model=False"):
        minnet.tl.transfer_labels(ref, other, "cell_type")
    with pytest.raises(MinNetInputError, match="made by different models"):
        minnet.tl.match_cells(ref, other)
    out = minnet.tl.transfer_labels(ref, other, "cell_type", check_model=False)  # warns only
    assert "cell_type_pred" in out.obs
