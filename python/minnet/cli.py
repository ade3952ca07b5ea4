"""Command line: ``minnet demo | train | embed | transfer``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ._utils import MinNetInputError

MODEL_SUFFIX = ".safetensors"


def _read(path: str):
    import anndata as ad

    if not Path(path).is_file():
        raise MinNetInputError(f"input file {path!r} does not exist.")
    return ad.read_h5ad(path)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    results = run_demo(out=args.out, n_cells=args.n_cells, epochs=args.epochs, seed=args.seed,
                       progress=not args.quiet)
    width = max(len(k) for k in results["metrics"])
    print("MinNet demo: simulated multiome, trained on", ", ".join(results["train_batches"]),
          "- evaluated on held-out", ", ".join(results["test_batches"]), "(unpaired RNA / ATAC)")
    for key, val in results["metrics"].items():
        print(f"  {key:<{width}}  {val:.3f}")
    print(f"Wrote {', '.join(str(p) for p in results['files'])}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import train

    settings = {name: getattr(args, name) for name in _train_settings()}
    settings["progress"] = not args.quiet
    model = train(
        _read(args.rna), _read(args.other), modality=args.modality, layer=args.layer,
        other_layer=args.other_layer, annotation=args.annotation, normalized=args.normalized,
        checkpoint=args.out, resume=args.resume, **settings,
    )
    print(model)
    if model.summary.get("interrupted"):
        print(f"Interrupted: wrote the best model so far to {args.out}; continue with --resume")
        return 130
    print(f"Wrote {args.out}")
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from .model import load
    from .tl import embed

    model = load(args.model)
    adata = embed(model, _read(args.input), args.modality, key_added=args.key_added,
                  layer=args.layer, normalized=args.normalized, batch_key=args.batch_key,
                  annotation=args.annotation)
    adata.write_h5ad(args.out)
    print(f"Wrote {args.out} with obsm[{args.key_added!r}] ({adata.n_obs} cells)")
    return 0


def _cmd_transfer(args: argparse.Namespace) -> int:
    from .tl import transfer_labels

    blend = {}
    if args.model is not None:
        from .model import load

        blend = {"model": load(args.model), "modality": args.modality, "layer": args.layer,
                 "head_weight": args.head_weight}
    out = transfer_labels(_read(args.reference), _read(args.query), args.label_key,
                          use_rep=args.use_rep, n_neighbors=args.n_neighbors,
                          min_confidence=args.min_confidence, **blend)
    out.write_h5ad(args.out)
    acc = out.obs[f"{args.label_key}_confidence"].mean()
    print(f"Wrote {args.out}: obs[{args.label_key + '_pred'!r}], mean confidence {acc:.3f}")
    return 0


def _cmd_links(args: argparse.Namespace) -> int:
    from .tl import peak_gene_links

    rna, atac = _read(args.rna), _read(args.atac)
    model = None
    if args.model is not None:
        from .model import load

        model = load(args.model)
    by = list(args.groupby)  # one column for both files, or the RNA and the ATAC column
    groupby = None if by in (["none"], [""]) else by[0] if len(by) == 1 else tuple(by)
    links = peak_gene_links(
        rna, atac, args.annotation, use_rep=args.use_rep, groupby=groupby,
        n_bulks=args.n_bulks, smooth=not args.no_smooth, n_neighbors=args.n_neighbors,
        percentile=args.percentile, distance=args.distance, method=args.method,
        n_background=args.n_background, layer=args.layer, atac_layer=args.atac_layer,
        seed=args.seed, progress=not args.quiet, genes=args.genes, model=model,
    )
    links.to_csv(args.out, sep="\t", index=False)
    n_sig = int((links["qvalue"] < 0.05).sum())
    print(f"Wrote {args.out}: {len(links)} peak-gene pairs, {n_sig} with qvalue < 0.05")
    return 0


def _add_links_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``links`` sub-command: every option of :func:`minnet.tl.peak_gene_links`."""
    lk = sub.add_parser("links", parents=[common], help="peak-gene links from RNA + ATAC h5ad",
                        description="Smooth → mini-bulk → peak-gene links (gene, peak, distance, "
                        "score, zscore, pvalue, qvalue) from unpaired RNA and ATAC cells in one "
                        "co-embedding: obsm[--use-rep] in both files, or --model to embed first.")
    lk.add_argument("--rna", required=True, help="RNA h5ad (raw counts)")
    lk.add_argument("--atac", required=True, help="ATAC h5ad (raw peak counts, chr-start-end)")
    lk.add_argument("--annotation", required=True, help="TSS table (gene_name chrom tss strand)")
    lk.add_argument("--model", default=None, help="model file: embed both files first")
    lk.add_argument("--use-rep", default="X_minnet")
    lk.add_argument("--groupby", nargs="+", default=["cell_type"], metavar="COLUMN",
                    help="mini-bulks stay within these groups: one column (RNA labels are "
                    "transferred to ATAC when it lacks them) or RNA_COLUMN ATAC_COLUMN; 'none' "
                    "for no grouping")
    lk.add_argument("--genes", nargs="+", default=None, metavar="GENE",
                    help="only link these genes (default: every gene in the annotation)")
    lk.add_argument("--n-bulks", type=int, default=100)
    lk.add_argument("--distance", type=int, default=150_000)
    lk.add_argument("--method", choices=["spearman", "pearson"], default="spearman")
    lk.add_argument("--n-background", type=int, default=200,
                    help="background peaks per gene and accessibility bin (200)")
    lk.add_argument("--no-smooth", action="store_true", help="skip KNN smoothing")
    lk.add_argument("--n-neighbors", type=int, default=5, help="smoothing neighbours (5)")
    lk.add_argument("--percentile", type=float, default=95,
                    help="smoothing: drop neighbours farther than this distance percentile (95)")
    lk.add_argument("--layer", default=None, help="RNA counts layer")
    lk.add_argument("--atac-layer", default=None, help="ATAC counts layer")
    lk.add_argument("--seed", type=int, default=0)
    lk.add_argument("--out", required=True, help="TSV to write")
    lk.set_defaults(func=_cmd_links)


def _train_settings() -> dict[str, object]:
    """The training settings the CLI exposes, with their defaults (minnet.settings)."""
    from .settings import TrainSettings

    return {k: v for k, v in TrainSettings().flat().items() if k != "progress"}


def _radius(text: str) -> float | str:
    return text if text == "auto" else float(text)


def _optional_int(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def _add_setting_options(parser: argparse.ArgumentParser) -> None:
    """One option per training setting (``--n-hidden``, ``--lr``, …), defaults from settings."""
    from .validation import BATCH_CORRECTIONS, NEGATIVE_MODES

    kinds = {"radius": _radius, "patience": _optional_int, "n_threads": _optional_int}
    choices = {"negatives": NEGATIVE_MODES, "batch_correction": BATCH_CORRECTIONS}
    for name, default in _train_settings().items():
        kind = kinds.get(name, type(default) if default is not None else str)
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=default,
                            choices=choices.get(name), help=f"(default {default})")


def build_parser() -> argparse.ArgumentParser:
    """The ``minnet`` argument parser."""
    from . import __version__

    p = argparse.ArgumentParser(prog="minnet", description="MinNet single-cell multi-omics "
                                "integration (RNA + ATAC / ADT).")
    p.add_argument("--version", action="version", version=f"minnet {__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or info logs")
    sub = p.add_subparsers(dest="command", required=True)
    # -q also works after the command (``minnet demo -q``)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars or info logs")

    d = sub.add_parser("demo", parents=[common], help="simulate → train → embed held-out batches → evaluate",
                       description="Simulate paired multiome data, train on some batches, embed "
                       "held-out batches as unpaired RNA and ATAC, transfer labels, print "
                       "metrics and write the model, embeddings and a UMAP PNG.")
    d.add_argument("--out", default="minnet-demo", help="output folder (default minnet-demo/)")
    d.add_argument("--n-cells", type=int, default=3000, help="simulated cells (default 3000)")
    d.add_argument("--epochs", type=int, default=None, help="training epochs (default: model's)")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_cmd_demo)

    t = sub.add_parser("train", parents=[common], help="train a model on paired h5ad files",
                       description="Train MinNet on paired RNA + ATAC/ADT h5ad files (same cells).")
    t.add_argument("--rna", required=True, help="paired RNA h5ad (raw counts)")
    t.add_argument("--other", required=True, help="paired ATAC (peaks or gene activity) or ADT h5ad")
    t.add_argument("--modality", choices=["atac", "adt"], required=True)
    t.add_argument("--layer", default=None, help="RNA layer with raw counts (default .X)")
    t.add_argument("--other-layer", default=None, help="other modality's counts layer")
    t.add_argument("--annotation", default=None, help="TSS table (gene_name chrom tss strand)")
    t.add_argument("--normalized", action="store_true", help="inputs are already normalised")
    _add_setting_options(t)
    t.add_argument("--out", required=True,
                   help=f"model file (e.g. model{MODEL_SUFFIX}), kept up to date while training: "
                   "Ctrl-C leaves the best model so far")
    t.add_argument("--resume", action="store_true",
                   help="continue the interrupted run saved in --out (same data and settings)")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("embed", parents=[common], help="embed an h5ad with a model",
                       description="Embed (unpaired) cells of one modality with a trained model.")
    e.add_argument("--model", required=True)
    e.add_argument("--input", required=True, help="h5ad to embed")
    e.add_argument("--modality", choices=["rna", "atac", "adt"], required=True)
    e.add_argument("--layer", default=None)
    e.add_argument("--normalized", action="store_true")
    e.add_argument("--batch-key", default=None)
    e.add_argument("--key-added", default="X_minnet")
    e.add_argument("--annotation", default=None,
                   help="TSS table, to embed ATAC peaks with a model trained on gene activity")
    e.add_argument("--out", required=True, help="h5ad to write")
    e.set_defaults(func=_cmd_embed)

    r = sub.add_parser("transfer", parents=[common], help="transfer labels between embedded h5ad files",
                       description="Distance-weighted KNN label transfer in the co-embedding.")
    r.add_argument("--reference", required=True)
    r.add_argument("--query", required=True)
    r.add_argument("--label-key", default="cell_type")
    r.add_argument("--use-rep", default="X_minnet")
    r.add_argument("--n-neighbors", type=int, default=30)
    r.add_argument("--min-confidence", type=float, default=None)
    r.add_argument("--model", default=None,
                   help="model file: blend the vote with its classifier on the query's raw data")
    r.add_argument("--modality", default=None, choices=["rna", "atac", "adt"],
                   help="with --model: what the query holds")
    r.add_argument("--layer", default=None, help="with --model: query layer with raw counts")
    r.add_argument("--head-weight", type=float, default=0.5,
                   help="with --model: the classifier's share of the blend (0.5)")
    r.add_argument("--out", required=True)
    r.set_defaults(func=_cmd_transfer)
    _add_links_parser(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``minnet`` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (MinNetInputError, FileNotFoundError, ValueError) as err:
        print(f"minnet {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
