# Training, saving and loading MinNet models; the R model handle.

`%||%` <- function(a, b) if (is.null(a)) b else a

# minnet.train() arguments that TrainMinNet() sets from its own arguments; every other
# keyword of minnet.train may be passed through `...`.
.train_set <- c("rna", "other", "modality", "label_key", "batch_key", "normalized", "annotation",
                "epochs", "seed", "progress")

# `...` for the core: names checked against the core's own signature (so a new core argument
# works at once), dots become underscores, whole numbers of `int` arguments integers.
.core_args <- function(dots, what) {
  if (length(dots) == 0L) {
    return(list())
  }
  nm <- names(dots)
  if (is.null(nm) || any(!nzchar(nm))) {
    .stopf("all extra arguments of %s must be named.", what)
  }
  kw <- .bridge()$train_keywords()
  allowed <- setdiff(names(kw), .train_set)
  nm <- gsub(".", "_", nm, fixed = TRUE)
  bad <- setdiff(nm, allowed)
  if (length(bad)) {
    .stopf("unknown argument(s) for %s: %s. Allowed: %s.", what,
           paste(bad, collapse = ", "), paste(allowed, collapse = ", "))
  }
  names(dots) <- nm
  for (n in nm[grepl("\\bint\\b", unlist(kw[nm]))]) {
    dots[[n]] <- .py_num(dots[[n]])
  }
  dots
}

.new_model <- function(py, command = NULL, file = NULL) {
  info <- .bridge()$model_info(py)
  tmp <- tempfile(fileext = ".minnet")
  on.exit(unlink(tmp), add = TRUE)
  py$save(tmp)
  cache <- new.env(parent = emptyenv())
  cache$py <- py
  structure(
    list(
      modalities = as.character(unlist(info$modalities)),
      features = lapply(info$features, function(x) as.character(unlist(x))),
      labels = as.character(unlist(info$labels)),
      config = info$config,
      summary = info$summary,
      history = .frame_from_columns(info$history),
      has.annotation = isTRUE(info$has_annotation),
      fingerprint = as.character(info$fingerprint),
      file = file,
      bytes = readBin(tmp, "raw", n = file.info(tmp)$size),
      command = command,
      cache = cache
    ),
    class = "MinNetModel"
  )
}

# The Python model behind a handle; restored from the kept model file bytes when the handle
# was saved with saveRDS() and read back in a new session. A damaged handle is named as the
# user's `arg`, never by the temporary file the bytes pass through.
.py_model <- function(model, arg = "model") {
  cache <- if (is.environment(model$cache)) model$cache else NULL
  py <- if (is.null(cache)) NULL else cache$py
  if (!is.null(py) && !reticulate::py_is_null_xptr(py)) {
    return(py)
  }
  core <- .core()
  damaged <- function(why) {
    .stopf("`%s` is a damaged MinNet model handle: %s. %s", arg, why, .model_fix(model))
  }
  if (!is.raw(model$bytes) || length(model$bytes) == 0L) {
    damaged("it holds no model file to restore the model from")
  }
  tmp <- tempfile(fileext = ".minnet")
  on.exit(unlink(tmp), add = TRUE)
  writeBin(model$bytes, tmp)
  py <- tryCatch(core$load(tmp), error = function(e) e)
  if (inherits(py, "error")) {
    # the core names the file and says to re-save it: here the file is the handle's copy
    why <- .first_line(sub("^[A-Za-z_.]*(MinNetInputError|ModelFileError): ", "",
                           conditionMessage(py)))
    why <- gsub(sprintf("'%s'", tmp), "the model it keeps", why, fixed = TRUE)
    why <- gsub(tmp, "the model it keeps", why, fixed = TRUE)
    damaged(sub("\\.?\\s*Re-save the model.*$", "", why))
  }
  # bytes swapped for another model's would give embeddings under the wrong fingerprint
  fp <- model$fingerprint
  if (!is.null(fp) && !identical(as.character(py$fingerprint), as.character(fp))) {
    damaged(sprintf("the model it keeps is another model (fingerprint %s; the handle records %s)",
                    as.character(py$fingerprint), paste(fp, collapse = ", ")))
  }
  if (!is.null(cache)) cache$py <- py
  py
}

# The fingerprint of a handle's model; handles of an older minnet restore it from Python.
.model_fingerprint <- function(model, arg = "model") {
  fp <- model$fingerprint
  if (is.character(fp) && length(fp) == 1L && !is.na(fp)) fp else
    as.character(.py_model(model, arg)$fingerprint)
}

#' Print a MinNet model handle
#'
#' Shows the modalities, feature and cell-type counts and the training summary, from the
#' fields the handle keeps in R (no Python needed).
#'
#' @param x A `MinNetModel` from [TrainMinNet()] or [LoadMinNet()].
#' @param ... Ignored.
#' @return `x`, invisibly.
#' @export
print.MinNetModel <- function(x, ...) {
  s <- x$summary
  acc <- s$best_val_accuracy
  cat(sprintf("MinNet model: %s + %s\n", x$modalities[1], x$modalities[2]))
  cat(sprintf("  features: %d %s, %d %s\n", length(x$features[[x$modalities[1]]]),
              x$modalities[1], length(x$features[[x$modalities[2]]]), x$modalities[2]))
  cat(sprintf("  cell types (%d): %s\n", length(x$labels),
              paste(utils::head(x$labels, 8), collapse = ", ")))
  cat(sprintf("  latent dimensions: %s; hidden: %s\n", format(x$config$n_latent),
              format(x$config$n_hidden)))
  cat(sprintf("  trained on %s cells; best epoch %s of %s; validation accuracy %s\n",
              format(s$n_cells), format(s$best_epoch), format(s$epochs_run),
              if (is.null(acc)) "NA" else sprintf("%.3f", acc)))
  if (!is.null(x$fingerprint)) cat(sprintf("  fingerprint: %s\n", x$fingerprint))
  invisible(x)
}

#' Train a MinNet model on a paired Seurat object
#'
#' Trains MinNet's Siamese network on cells measured in both modalities: RNA and either
#' ATAC (as a gene-activity assay such as Signac's `GeneActivity`, or as peaks with an
#' `annotation`) or ADT. Raw counts are handed to the Python core, which selects features,
#' normalises, batch-corrects the RNA graph and trains (see the core's `minnet.train`).
#' The defaults are the core's (a test compares them); R checks the Seurat side (assays,
#' slots, metadata columns, shared cells) and the core checks the values (labels, numbers),
#' with its message naming the R argument.
#'
#' @param object A Seurat object holding both modalities for the same cells.
#' @param rna.assay The RNA assay.
#' @param other.assay The second modality's assay: gene activity or peaks for `"atac"`, protein
#'   counts for `"adt"`. Default for `"atac"`: with `annotation`, the object's Signac
#'   `ChromatinAssay` when it has one (whatever its name, e.g. `"ATAC"`), else its peak assay
#'   (as in [LinkMinNetPeaks()]); without, `"ACTIVITY"` (gene activity, as Signac's
#'   `GeneActivity` computes it). `"ADT"` for `"adt"`.
#' @param modality `"atac"` or `"adt"`: what `other.assay` holds.
#' @param label Metadata column with cell types (at least two). The core's `label_key`; the
#'   default is the R spelling of the core's `"cell_type"`, the column
#'   [SimulateMinNetData()] writes.
#' @param batch Optional metadata column with batches (the graph is batch-corrected).
#' @param annotation Gene annotation (data.frame or `GRanges`, see
#'   [CreateMinNetAnnotation()]); with peaks in `other.assay` the core turns them into gene
#'   activity with it (kept in the model so peaks can be embedded). Without it, peaks are used
#'   through a TF-IDF/LSI projection fitted on the training cells (`peak.input = "lsi"` forces
#'   that route, `n.lsi.components` sets its size); query peaks from another peak calling
#'   are mapped onto the model's by overlap.
#' @param other.object Optional second Seurat object that holds `other.assay` for the same
#'   cells (matched by name); default `object`.
#' @param slot `"counts"` (default, raw counts normalised by the core) or `"data"` (both
#'   assays already normalised): the core's `normalized = FALSE` / `TRUE`.
#' @param epochs Maximum number of epochs (training stops early on the validation loss);
#'   `"auto"`: 60 up to 25,000 training cells, fewer (at least 5) for more cells, whose
#'   epochs are longer.
#' @param seed Random seed; the same seed gives the same model on CPU.
#' @param verbose Show a progress bar (the core's `progress`).
#' @param query Optional query-aware mode: unpaired, unlabelled Seurat objects to integrate,
#'   `list(rna = <Seurat>, atac = <Seurat>)` (or `adt =`; either may be left out), read from
#'   `rna.assay` / `other.assay` and `slot`. Training then also aligns the query's two
#'   modalities (MMD) and trains on their confident predictions, so the model adapts to the
#'   query's libraries (ATAC peaks without an annotation: the query's ATAC cells also take
#'   part in fitting the LSI projection); embed them afterwards with [RunMinNet()]. `NULL` (default):
#'   reference-only, each cell's embedding independent of any query.
#' @param ... Further arguments of the core's `minnet.train`, in R (`n.hidden`) or Python
#'   (`n_hidden`) spelling, e.g. `n_hidden`, `margin`, `lr`, `batch_size`, `device`;
#'   `n.networks = 1` trains one network instead of the default seed ensemble (five networks
#'   up to 100,000 cells, averaged after alignment; five times the training time);
#'   `checkpoint = "run.minnet"` keeps the best model so far in that file during training
#'   (an interrupted run leaves it there) and `resume = TRUE` continues such a run;
#'   `gene.activity.kwds = list(distance = 0)` changes how peaks become gene activity
#'   (`upstream`, `gene_body`, `distance`, `decay` of `minnet.pp.gene_activity`).
#'
#' @return A `MinNetModel` handle wrapping the Python model, with fields `modalities`,
#'   `features`, `labels`, `config`, `summary`, `history` (per-epoch losses), `fingerprint`
#'   (the core's `MinNetModel.fingerprint`: [RunMinNet()] records it in the reduction) and
#'   `command` (the logged `SeuratCommand`). It survives `saveRDS()`; use [SaveMinNet()] to
#'   share it with Python.
#' @export
#' @examples
#' \dontrun{
#' sim <- SimulateMinNetData(n.cells = 600)
#' model <- TrainMinNet(sim$paired, other.assay = "ACTIVITY", modality = "atac",
#'                      label = "celltype", epochs = 10)
#' cite <- SimulateMinNetData(n.cells = 600, modality = "adt")
#' model_adt <- TrainMinNet(cite$paired, other.assay = "ADT", modality = "adt", epochs = 10)
#' }
TrainMinNet <- function(object, rna.assay = "RNA", other.assay = NULL,
                        modality = c("atac", "adt"), label = "celltype", batch = NULL,
                        annotation = NULL, other.object = NULL, slot = "counts", epochs = "auto",
                        seed = 0, verbose = TRUE, query = NULL, ...) {
  .check_seurat(object, "object")
  if (!is.null(other.object)) .check_seurat(other.object, "other.object")
  other <- other.object %||% object
  if (missing(modality)) modality <- modality[1]
  # R picks the default assay from it, so R checks it
  modality <- .check_modality(modality, c("atac", "adt"))
  if (is.null(other.assay)) {
    other.assay <- if (modality == "adt") {
      "ADT"
    } else if (!is.null(annotation)) {
      .default_peak_assay(other)
    } else {
      "ACTIVITY"
    }
  }
  .check_assay(object, rna.assay, "rna.assay")
  .check_assay(other, other.assay, "other.assay",
               if (is.null(other.object)) "object" else "other.object")
  .check_slot(slot)
  rna_pieces <- CreateMinNetAnnDataPieces(object, rna.assay, slot)
  other_pieces <- CreateMinNetAnnDataPieces(other, other.assay, slot)
  shared <- intersect(rna_pieces$obs_names, other_pieces$obs_names)
  if (length(shared) == 0L) {
    .stopf("no shared cells: assay '%s' and assay '%s' have no cell names in common (e.g. '%s' vs '%s'); training needs the same cells in both modalities.",
           rna.assay, other.assay, rna_pieces$obs_names[1], other_pieces$obs_names[1])
  }
  .check_meta(object, label, "label")
  if (!is.null(batch)) .check_meta(object, batch, "batch")
  ann <- if (is.null(annotation)) NULL else .annotation_table(annotation)
  extra <- .core_args(list(...), "TrainMinNet()")
  if (length(shared) < length(rna_pieces$obs_names) ||
      length(shared) < length(other_pieces$obs_names)) {
    if (verbose) message(sprintf("TrainMinNet: training on the %d shared cells.", length(shared)))
    rna_pieces <- CreateMinNetAnnDataPieces(object, rna.assay, slot, cells = shared)
    other_pieces <- CreateMinNetAnnDataPieces(other, other.assay, slot, cells = shared)
  }

  # Labels, batches, epochs, seed, the annotation and `...` are checked by the core.
  core <- .core()
  rna <- .pieces_to_adata(rna_pieces, c(label, batch))
  oth <- .pieces_to_adata(other_pieces)
  args <- c(list(rna, oth, modality = modality, label_key = label, batch_key = batch,
                 normalized = identical(slot, "data"), epochs = .py_num(epochs),
                 seed = .py_num(seed), progress = isTRUE(verbose)), extra)
  if (!is.null(ann)) {
    args$annotation <- .py_frame(ann)
  }
  if (!is.null(query)) {
    args$query <- .query_adata(query, modality, c(rna = rna.assay, other = other.assay), slot)
  }
  py <- .py_call(do.call(core$train, args), "TrainMinNet",
                 c(label_key = "label", batch_key = "batch", .py_names(names(list(...)))))
  annotation <- if (is.null(ann)) NULL else sprintf("<annotation of %d genes>", nrow(ann))
  other.object <- if (is.null(other.object)) NULL else "<Seurat>"
  command <- SeuratObject::LogSeuratCommand(object, return.command = TRUE)
  command@name <- "TrainMinNet"
  .new_model(py, command)
}

# The query-aware mode's unpaired Seurat objects as the core's dict of AnnData.
.query_adata <- function(query, modality, assays, slot) {
  if (!is.list(query) || is.null(names(query)) || !all(names(query) %in% c("rna", modality)) ||
      length(query) == 0L) {
    .stopf("query must be a named list with elements 'rna' and/or '%s' (unpaired Seurat objects), e.g. list(rna = rna_query, %s = %s_query).",
           modality, modality, modality)
  }
  out <- list()
  for (name in names(query)) {
    .check_seurat(query[[name]], sprintf("query$%s", name))
    assay <- if (name == "rna") assays[["rna"]] else assays[["other"]]
    .check_assay(query[[name]], assay, if (name == "rna") "rna.assay" else "other.assay",
                 sprintf("query$%s", name))
    out[[name]] <- .pieces_to_adata(CreateMinNetAnnDataPieces(query[[name]], assay, slot))
  }
  out
}

#' Save a MinNet model to a file
#'
#' Writes the core's model file (safetensors weights + JSON metadata, written atomically),
#' which Python reads with `minnet.load(path)` and R with [LoadMinNet()].
#'
#' @param model A `MinNetModel` from [TrainMinNet()] or [LoadMinNet()].
#' @param file Path of the file to write.
#'
#' @return `file`, invisibly.
#' @export
#' @examples
#' \dontrun{
#' SaveMinNet(model, "model.minnet")
#' }
SaveMinNet <- function(model, file) {
  .check_model(model)
  .check_string(file, "file")
  dir <- dirname(path.expand(file))
  if (!dir.exists(dir)) {
    .stopf("cannot save to '%s': folder '%s' does not exist.", file, dir)
  }
  .core()
  py <- .py_model(model)
  .py_call(py$save(path.expand(file)), "SaveMinNet")
  invisible(file)
}

#' Load a MinNet model file
#'
#' Reads a model file written by [SaveMinNet()] or by Python's `model.save(path)`, with the
#' core's `minnet.load(path)` (which never executes code from the file).
#'
#' @param file Path of the model file.
#'
#' @return A `MinNetModel` handle.
#' @export
#' @examples
#' \dontrun{
#' model <- LoadMinNet("model.minnet")
#' }
LoadMinNet <- function(file) {
  .check_string(file, "file")
  if (!file.exists(file)) {
    .stopf("model file '%s' does not exist.", file)
  }
  core <- .core()
  path <- normalizePath(file)
  # the core's message names the path it was given: show the user's spelling
  py <- tryCatch(core$load(path), error = function(e) e)
  if (inherits(py, "error")) {
    msg <- gsub(path, file, conditionMessage(py), fixed = TRUE)
    .py_call(stop(msg, call. = FALSE), "LoadMinNet")
  }
  .new_model(py, file = path)
}
