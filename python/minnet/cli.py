"""Command line: ``minnet demo | train | embed | transfer | links``.

Before any work, every command checks its files (:func:`_check_files`): inputs exist and are of
the right kind, the output's folder exists and is writable, and the output is none of the
inputs, so a careless ``--out`` never replaces the user's data.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Literal

from ._utils import MinNetInputError

MODEL_SUFFIX = ".safetensors"

#: What a file option holds: an AnnData file, a MinNet model file, a text table, a folder.
FileKind = Literal["h5ad", "model", "table", "folder"]

#: Per command: its input file options with their kind, the kind of its ``--out``, and the
#: options that name an ``obsm`` key.
_FILES: dict[str, tuple[dict[str, FileKind], FileKind, tuple[str, ...]]] = {
    "demo": ({}, "folder", ()),
    "train": ({"rna": "h5ad", "other": "h5ad", "annotation": "table"}, "model", ()),
    "embed": ({"model": "model", "input": "h5ad", "annotation": "table"}, "h5ad",
              ("key_added",)),
    "transfer": ({"reference": "h5ad", "query": "h5ad", "model": "model"}, "h5ad",
                 ("use_rep",)),
    "links": ({"rna": "h5ad", "atac": "h5ad", "annotation": "table", "model": "model"},
              "table", ("use_rep",)),
}
_EXAMPLE = {"model": f"model{MODEL_SUFFIX}", "h5ad": "out.h5ad", "table": "links.tsv"}
_WHAT = {"model": "a MinNet model file", "h5ad": "an h5ad (HDF5) file",
         "table": "a text file", "binary": "a binary file"}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _file_kind(path: Path) -> Literal["h5ad", "model", "table", "binary"]:
    """What an existing file holds, from its first bytes (nothing else is read)."""
    import h5py
    from safetensors import SafetensorError, safe_open

    if h5py.is_hdf5(path):
        return "h5ad"
    try:
        with safe_open(str(path), framework="np") as fh:
            # the metadata key of io.py's model files (io itself would import torch)
            if "minnet" in (fh.metadata() or {}):
                return "model"
    except (SafetensorError, OSError):
        pass
    with open(path, "rb") as fh:
        return "binary" if b"\0" in fh.read(8192) else "table"


def _check_input(path: str, name: str, kind: FileKind) -> None:
    """An input file exists, is a file, and (h5ad) starts with the HDF5 signature."""
    where = f"{'model' if kind == 'model' else 'input'} file {path!r} ({_option(name)})"
    if not os.path.exists(path):
        raise MinNetInputError(f"{where} does not exist.")
    if os.path.isdir(path):
        raise MinNetInputError(f"{where} is a folder; give the file's path.")
    if not os.path.isfile(path):  # a pipe or device: reading it could block or never end
        raise MinNetInputError(f"{where} is not a regular file; give the path of a saved file.")
    if not os.access(path, os.R_OK):
        raise MinNetInputError(f"{where} is not readable (check its permissions).")
    found = _file_kind(Path(path))
    if kind == "h5ad" and found != "h5ad":
        hint = " (pass it as --model)" if found == "model" else ""
        raise MinNetInputError(
            f"{where} is not an h5ad file: it is {_WHAT[found]}{hint}. Pass an AnnData file "
            "written by anndata (adata.write_h5ad(...))."
        )


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file: same real path, or (both existing) same inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, case-insensitive file systems
    except OSError:
        return False


def _check_output(path: str, kind: FileKind, inputs: dict[str, str]) -> None:
    """``--out`` is writable, is none of the inputs, and replaces nothing but its own kind.

    Raises
    ------
    MinNetInputError
        Naming the problem and the fix.
    """
    if not path:
        raise MinNetInputError("--out must not be empty.")
    for name, other in inputs.items():
        if _same_file(path, other):
            raise MinNetInputError(
                f"--out {path!r} is the same file as the input {_option(name)} {other!r}: "
                "MinNet never writes over its inputs. Choose another file name for --out."
            )
    out = Path(path)
    if kind == "folder":  # demo: a folder of results, created with its parents
        if out.exists() and not out.is_dir():
            raise MinNetInputError(f"--out {path!r} is a file; give a folder name for the results.")
        return
    example = str(out / _EXAMPLE[kind])
    if out.is_dir():
        raise MinNetInputError(f"--out {path!r} is a folder; give a file name, e.g. {example!r}.")
    if path.endswith(("/", os.sep)):
        raise MinNetInputError(
            f"--out {path!r} ends with '/' but must name a file: drop the '/' or give a file in "
            f"that folder, e.g. {example!r}."
        )
    _check_folder(out, path)
    if out.exists():
        if not os.access(out, os.W_OK):
            raise MinNetInputError(f"--out {path!r} is read-only; choose another file name.")
        found = _file_kind(out) if out.stat().st_size else kind
        if found != kind:
            raise MinNetInputError(
                f"--out {path!r} exists and is {_WHAT[found]}, not {_WHAT[kind]}: MinNet does not "
                "replace it. Choose another file name (or delete the file first)."
            )
    if kind == "model" and out.suffix.lower() == ".h5ad":
        raise MinNetInputError(
            f"--out {path!r} is the model file (safetensors), not an h5ad; name it e.g. "
            f"{str(out.with_suffix(MODEL_SUFFIX))!r}."
        )


def _check_folder(out: Path, path: str) -> None:
    """The folder ``--out`` goes into exists, is a folder and is writable."""
    folder = out.parent
    if not folder.exists():
        raise MinNetInputError(
            f"--out {path!r}: folder {str(folder)!r} does not exist; create it first "
            f"(mkdir -p {folder})."
        )
    if not folder.is_dir():
        raise MinNetInputError(f"--out {path!r}: {str(folder)!r} is a file, not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise MinNetInputError(
            f"--out {path!r}: folder {str(folder)!r} is not writable; choose another folder."
        )


def _check_files(args: argparse.Namespace) -> None:
    """Every file and key option of the command, checked before any work.

    Raises
    ------
    MinNetInputError
        On the first problem: a missing or wrong-kind input, an unusable ``--out``, an ``--out``
        that is one of the inputs, an ``obsm`` key that h5ad cannot store.
    """
    from .validation import check_key

    kinds, out_kind, keys = _FILES[args.command]
    for name in keys:
        check_key(getattr(args, name), _option(name))
    inputs = {name: getattr(args, name) for name in kinds if getattr(args, name) is not None}
    for name, path in inputs.items():
        _check_input(path, name, kinds[name])
    _check_output(args.out, out_kind, inputs)


def _read(path: str, backed: bool = False):
    """An h5ad input (already checked by :func:`_check_files`) as AnnData; ``backed``: left
    on disk (``read_h5ad(path, backed="r")``) for a reader that reads it block by block."""
    from ._utils import read_h5ad

    return read_h5ad(path, backed="r" if backed else None)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    results = run_demo(out=args.out, n_cells=args.n_cells, epochs=args.epochs, seed=args.seed,
                       progress=not args.quiet)
    width = max(len(k) for k in results["metrics"])
    print("MinNet demo: simulated multiome, trained on", ", ".join(results["train_batches"]),
          "- evaluated on held-out", ", ".join(results["test_batches"]), "(unpaired RNA / ATAC)")
    for key, val in results["metrics"].items():
        print(f"  {key:<{width}}  {val:.3f}" if isinstance(val, float) else f"  {key:<{width}}  {val}")
    print(f"Wrote {', '.join(str(p) for p in results['files'])}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import train

    settings = {name: getattr(args, name) for name in _train_settings()}
    settings["progress"] = not args.quiet
    # on disk: the input specs read the counts a block of cells at a time
    model = train(
        _read(args.rna, backed=True), _read(args.other, backed=True), modality=args.modality,
        layer=args.layer, other_layer=args.other_layer, annotation=args.annotation,
        normalized=args.normalized,
        checkpoint=args.out, resume=args.resume, distributed=args.distributed, **settings,
    )
    if args.distributed and int(os.environ.get("RANK", "0")) != 0:
        return 0  # rank 0 wrote the model and reports
    print(model)
    if model.summary.get("interrupted"):
        print(f"Interrupted: wrote the best model so far to {args.out}; continue with --resume")
        return 130
    print(f"Wrote {args.out}")
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from .backed import embed_h5ad
    from .model import load

    model = load(args.model)
    # block by block into a copy of the input: memory bounded whatever the file's size
    n = embed_h5ad(model, args.input, args.out, args.modality, key_added=args.key_added,
                   layer=args.layer, normalized=args.normalized, batch_key=args.batch_key,
                   annotation=args.annotation)
    print(f"Wrote {args.out} with obsm[{args.key_added!r}] ({n} cells)")
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
        distance_prior=not args.no_distance_prior,
    )
    links.to_csv(args.out, sep="\t", index=False)
    n_sig = int((links["qvalue"] < 0.1).sum())
    print(f"Wrote {args.out}: {len(links)} peak-gene pairs, {n_sig} with qvalue < 0.1")
    return 0


def _add_links_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``links`` sub-command: every option of :func:`minnet.tl.peak_gene_links`."""
    from .tl._links import METHODS as LINK_METHODS

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
    lk.add_argument("--n-bulks", type=_auto_int, default="auto",
                    help="mini-bulks: a number or 'auto' (one per 10 cells, at most 100)")
    lk.add_argument("--distance", type=int, default=150_000)
    lk.add_argument("--method", choices=list(LINK_METHODS), default=LINK_METHODS[0],
                    help="link statistic: empirical_bayes (posterior probability of a link "
                    "given the robust z-score and the distance to the TSS; default), "
                    "spearman (the paper's), pearson, robust, within")
    lk.add_argument("--no-distance-prior", action="store_true",
                    help="empirical_bayes: one share of links for all distances (for "
                    "annotations whose TSSs are placeholders)")
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


def _auto_float(text: str) -> float | str:
    return text if text == "auto" else float(text)


def _auto_int(text: str) -> int | str:
    return text if text == "auto" else int(text)


def _optional_int(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def _add_setting_options(parser: argparse.ArgumentParser) -> None:
    """One option per training setting (``--n-hidden``, ``--lr``, …), defaults from settings."""
    from .validation import BATCH_CORRECTIONS, NEGATIVE_MODES

    kinds = {"radius": _auto_float, "input_dropout": _auto_float, "hidden_dropout": _auto_float,
             "n_networks": _auto_int, "batch_size": _auto_int, "lr": _auto_float,
             "epochs": _auto_int,
             "patience": _optional_int, "n_threads": _optional_int}
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
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel training in a torchrun worker: torchrun "
                   "--nproc_per_node=N -m minnet train ... --distributed (a number --batch-size is per "
                   "process, auto the global one; rank 0 writes --out)")
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
    """Entry point of the ``minnet`` command.

    Returns the exit status: 0 on success, 2 on an error (one line ``minnet <command>: error:
    …`` on stderr, as argparse reports a wrong option), 130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        _check_files(args)  # before any work: a bad --out must not cost a training run
        return args.func(args)
    except (MinNetInputError, OSError, ValueError) as err:
        message = " ".join(line.strip() for line in str(err).splitlines())  # one line
        print(f"minnet {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # training handles Ctrl-C itself; elsewhere stop quietly
        print(f"minnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
