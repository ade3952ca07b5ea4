"""Runner: MinNet with the package defaults, trained on the task's training batches (paired),
then embedding the held-out RNA and other modality separately (unpaired).

    python benchmarks/peers/run_minnet.py --task sim_strong --n-cells 4000 --n-batches 4 \
        --seed 0 --out OUT

Exactly ``benchmarks/_common.fit_embed_minnet`` (the call ``heldout.py`` and ``sweep.py`` use).
Rows come out in the task's held-out order (``info["row_order"] = "task"``). ``pred_other.csv``
holds MinNet's own labels for the held-out other-modality cells: ``tl.transfer_labels`` with
the model (kNN vote of the held-out RNA blended with the classifier head).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
from _common import TaskSpec, spec_from_args  # noqa: E402
from exchange import runner_args, write_result  # noqa: E402


def run(spec: TaskSpec, seed: int, out: Path, scaling: str = "reference") -> None:
    """Train, embed and write the embeddings of the held-out cells to ``out``."""
    from _common import fit_embed_minnet

    import minnet

    task = spec.load()
    if task is None:
        raise SystemExit(f"task {spec.name} is not available")
    t0 = time.perf_counter()
    rq, oq, model = fit_embed_minnet(task, seed=seed, return_model=True, scaling=scaling)
    secs = time.perf_counter() - t0
    # MinNet's own labelling of the query cells, reported beside the kNN transfer that every
    # method gets: the package's transfer_labels with the model, i.e. the vote of the labelled
    # held-out RNA blended with the classifier head (trained on the training batches' labels).
    held = task.other[~task.is_train].copy()
    held.obsm["X_minnet"] = oq.obsm["X_minnet"]
    held.uns["minnet"] = oq.uns["minnet"]  # how it was embedded (the classifier scales alike)
    own = minnet.tl.transfer_labels(rq, held, "cell_type", model=model,
                                    modality=task.modality, layer=task.layer)
    pred = pd.DataFrame({"cell": held.obs_names,
                         "predicted": own.obs["cell_type_pred"].astype(str).to_numpy()})
    write_result(out, rq.obsm["X_minnet"], oq.obsm["X_minnet"],
                 {"method": "MinNet", "version": minnet.__version__, "seconds": secs,
                  "row_order": "task",
                  "settings": "package defaults" + ("" if scaling == "reference"
                                                    else f", scaling={scaling!r}"),
                  "epochs": model.summary.get("epochs_run"),
                  "best_epoch": model.summary.get("best_epoch")}, pred)


def main() -> None:
    a = runner_args(__doc__, exchange=False, scaling=True)
    run(spec_from_args(a), a.seed, a.out, a.scaling)


if __name__ == "__main__":
    main()
