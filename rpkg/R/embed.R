# Co-embedding Seurat data with a trained model, and storing co-embeddings as reductions.

#' Co-embed the cells of a Seurat object with a MinNet model
#'
#' Embeds one modality of (paired or unpaired) cells into the model's co-embedding and
#' stores it as a reduction, so `RunUMAP(object, reduction = "minnet", dims = 1:32)` and
#' `FindNeighbors(object, reduction = "minnet", dims = 1:32)` work as with any reduction.
#' Raw counts are handed to the core, which normalises them and aligns the features to the
#' model's (missing features count as zero). ATAC may be given as gene activity or, when the
#' model was trained with an annotation, as peaks. The core's `MinNetModel.embed` does the
#' work; the defaults are its defaults (a test compares them).
#'
#' @param object A Seurat object.
#' @param model A `MinNetModel` from [TrainMinNet()] or [LoadMinNet()].
#' @param assay The assay to embed (default: the default assay).
#' @param modality What `assay` holds: `"rna"`, `"atac"` or `"adt"` (one of the model's).
#' @param reduction.name Name of the reduction to add.
#' @param reduction.key Key of the reduction (column prefix).
#' @param slot `"counts"` (default: raw counts) or `"data"` (already normalised values): the
#'   core's `normalized = FALSE` / `TRUE`.
#' @param batch With `scaling = "query"`: optional metadata column, each batch is scaled on
#'   its own statistics (the core's `batch_key`).
#' @param scaling `"reference"` (default): each cell is scaled with the statistics of the
#'   model's training cells, so its embedding does not depend on the other cells embedded with
#'   it (one cell, or one sorted cell type, embeds as it does among all cells); `"query"`: the
#'   object (or each `batch`) is scaled by its own statistics, a dataset-level adaptation
#'   that needs many cells of varied types (the core warns, as an R warning, when a group is
#'   too small).
#' @param verbose Print what is embedded.
#'
#' @return `object` with the reduction `reduction.name` added (and the command logged as
#'   `RunMinNet.<assay>`). The reduction's `misc` records the model that made it,
#'   `list(minnet = list(model = <fingerprint>, modality = modality))`, so that
#'   [TransferMinNetLabels()] and [LinkMinNetPeaks()] can refuse reductions of two models.
#' @export
#' @examples
#' \dontrun{
#' rna <- RunMinNet(rna, model, assay = "RNA", modality = "rna")
#' rna <- Seurat::RunUMAP(rna, reduction = "minnet", dims = 1:32)
#' }
RunMinNet <- function(object, model, assay = NULL, modality, reduction.name = "minnet",
                      reduction.key = "minnet_", slot = "counts", batch = NULL,
                      scaling = "reference", verbose = TRUE) {
  .check_seurat(object, "object")
  .check_model(model)
  assay <- assay %||% SeuratObject::DefaultAssay(object)
  .check_assay(object, assay)
  if (missing(modality)) {
    .stopf("`modality` is required: what assay '%s' holds, one of the model's modalities (%s).",
           assay, paste(sprintf("'%s'", model$modalities), collapse = ", "))
  }
  .check_string(reduction.name, "reduction.name")
  .check_key(reduction.key)
  .check_string(scaling, "scaling")   # its value is checked by the core
  z <- .embed_matrix(object, model, assay, modality, slot, batch, verbose, scaling)
  # the model's fingerprint lets TransferMinNetLabels() refuse reductions of two models
  minnet <- list(model = .model_fingerprint(model), modality = .check_modality(modality))
  object <- .add_reduction(object, z, reduction.name, reduction.key, assay, minnet)
  model <- sprintf("<MinNetModel %s>", paste(model$modalities, collapse = "+"))
  command <- SeuratObject::LogSeuratCommand(object, return.command = TRUE)
  .store_command(object, command, paste0("RunMinNet.", assay), assay)
}

# The co-embedding (cells x dimensions, rows named by cell) of one assay: checks in R, then
# the core's model.embed().
.embed_matrix <- function(object, model, assay, modality, slot = "counts", batch = NULL,
                          verbose = TRUE, scaling = "reference") {
  modality <- .check_modality(modality)
  input <- .model_input(object, model, assay, modality, slot, batch, verbose)
  py <- .py_model(model)
  if (verbose) {
    message(sprintf("RunMinNet: embedding %d cells of assay '%s' as %s.",
                    length(input$cells), assay, modality))
  }
  res <- .py_call(.bridge()$embed(py, input$adata, modality, identical(slot, "data"), batch,
                                  scaling), "RunMinNet", c(batch_key = "batch"))
  for (w in unlist(res$warnings)) warning("RunMinNet: ", .r_message(w), call. = FALSE)
  matrix(as.numeric(res$z), nrow = length(input$cells), dimnames = list(input$cells, NULL))
}

# One assay as the AnnData the model reads (`adata`) and its cell names (`cells`), after the
# R-side checks of the assay against the model handle (modality known to the model, features
# or peaks it can use), which R can do without restoring the Python model.
.model_input <- function(object, model, assay, modality, slot = "counts", batch = NULL,
                         verbose = TRUE) {
  if (!modality %in% model$modalities) {
    .stopf("this model was trained on %s; it cannot embed modality '%s'.",
           paste(model$modalities, collapse = " + "), modality)
  }
  .check_slot(slot)
  if (!is.null(batch)) .check_meta(object, batch, "batch")
  pieces <- CreateMinNetAnnDataPieces(object, assay, slot)
  pieces$var_names <- .match_model_features(pieces$var_names, model$features[[modality]],
                                            verbose)
  reads_peaks <- identical(model$config$atac_input, "peak_lsi")
  if (modality == "atac" && reads_peaks && !.looks_like_peaks(pieces$var_names)) {
    .stopf("this model reads ATAC peaks (their LSI projection); assay '%s' holds other features (%s, ...): embed the peak assay.",
           assay, paste(utils::head(pieces$var_names, 3), collapse = ", "))
  }
  if (modality == "atac" && .looks_like_peaks(pieces$var_names)) {
    if (!isTRUE(model$has.annotation) && !reads_peaks) {
      .stopf("assay '%s' holds peaks but the model has no gene annotation to compute gene activity; embed a gene-activity assay (e.g. Signac's GeneActivity) instead, or train with `annotation`.",
             assay)
    }
    if (slot != "counts") {
      .stopf("assay '%s' holds peaks: the model reads their raw counts, use slot = 'counts'.",
             assay)
    }
  } else if (!any(pieces$var_names %in% model$features[[modality]])) {
    .stopf("none of the model's %d %s features are in assay '%s' (model: %s, ...; assay: %s, ...).",
           length(model$features[[modality]]), modality, assay,
           paste(utils::head(model$features[[modality]], 3), collapse = ", "),
           paste(utils::head(pieces$var_names, 3), collapse = ", "))
  }

  .core()
  list(adata = .pieces_to_adata(pieces, batch), cells = pieces$obs_names)
}

# Seurat turns '_' in feature names into '-' (e.g. ADT_CD3 -> ADT-CD3): map such names back
# to the model's spelling when that matches more of the model's features.
.match_model_features <- function(var_names, model_features, verbose = FALSE) {
  dashed <- gsub("_", "-", model_features, fixed = TRUE)
  if (all(dashed == model_features)) {
    return(var_names)
  }
  idx <- match(var_names, dashed)
  hit <- !is.na(idx) & !var_names %in% model_features
  if (sum(!is.na(idx)) > sum(var_names %in% model_features)) {
    if (verbose) {
      message(sprintf("RunMinNet: matched %d feature names with '-' to the model's '_' spelling.",
                      sum(hit)))
    }
    var_names[hit] <- model_features[idx[hit]]
  }
  var_names
}

#' Turn a co-embedding into a Seurat DimReduc
#'
#' @param embeddings A cells x dimensions numeric matrix (e.g. the MinNet co-embedding
#'   computed by the Python core).
#' @param assay The assay the embedding was computed from (`DimReduc`'s `assay.used`).
#' @param key Reduction key; columns become `key1, key2, ...`.
#' @param cells Cell names of the rows (default: `rownames(embeddings)`).
#'
#' @return A `DimReduc` holding exactly `embeddings`, with `stdev` the standard deviation of
#'   each dimension over the cells (so `ElbowPlot(object, reduction = "minnet")` shows how
#'   the spread is distributed over the dimensions; MinNet's dimensions are not ordered by
#'   variance as PCs are, so it is no guide for choosing `dims`).
#' @export
#' @examples
#' emb <- matrix(rnorm(20), 10, 2, dimnames = list(paste0("c", 1:10), NULL))
#' CreateMinNetDimReduc(emb, assay = "RNA")
CreateMinNetDimReduc <- function(embeddings, assay, key = "minnet_", cells = NULL) {
  .check_key(key, "key")
  .check_string(assay, "assay")
  emb <- as.matrix(embeddings)
  if (!is.numeric(emb) || length(dim(emb)) != 2L || ncol(emb) < 1L) {
    .stopf("`embeddings` must be a numeric cells x dimensions matrix.")
  }
  storage.mode(emb) <- "double"
  if (!is.null(cells)) {
    if (length(cells) != nrow(emb)) {
      .stopf("`cells` has %d names but `embeddings` has %d rows.", length(cells), nrow(emb))
    }
    rownames(emb) <- as.character(cells)
  }
  if (is.null(rownames(emb)) || anyDuplicated(rownames(emb))) {
    .stopf("`embeddings` needs unique cell names as row names (or pass `cells`).")
  }
  colnames(emb) <- paste0(key, seq_len(ncol(emb)))
  stdev <- if (nrow(emb) > 1L) unname(apply(emb, 2L, stats::sd)) else numeric()
  SeuratObject::CreateDimReducObject(embeddings = emb, key = key, assay = assay,
                                     stdev = stdev)
}

# `minnet`: what RunMinNet() records in the DimReduc's misc (model fingerprint, modality).
.add_reduction <- function(object, embeddings, reduction.name, reduction.key, assay,
                           minnet = NULL) {
  cells <- SeuratObject::Cells(object)
  emb <- as.matrix(embeddings)
  missing <- setdiff(cells, rownames(emb))
  if (length(missing)) {
    .stopf("the embedding lacks %d of the object's cells (e.g. %s).", length(missing),
           paste(utils::head(missing, 3), collapse = ", "))
  }
  dr <- CreateMinNetDimReduc(emb[cells, , drop = FALSE], assay = assay, key = reduction.key)
  if (!is.null(minnet)) {
    methods::slot(dr, "misc")[["minnet"]] <- minnet   # next to whatever misc holds
  }
  object[[reduction.name]] <- dr
  object
}

#' Store a co-embedding in a Seurat object
#'
#' Adds the embedding as reduction `reduction.name` (a `DimReduc` from
#' [CreateMinNetDimReduc()]),
#' so e.g. `RunUMAP(object, reduction = "minnet", dims = 1:32)` works. [RunMinNet()] does
#' this for you; use this function for embeddings computed in Python.
#'
#' @param object A Seurat object.
#' @param embeddings Cells x dimensions matrix with the object's cell names as row names.
#' @param reduction.name Name of the reduction.
#' @param reduction.key Its key.
#' @param assay The assay the embedding was computed from.
#'
#' @return `object` with the reduction added (and the command logged as
#'   `AddMinNetEmbedding.<assay>`).
#' @export
#' @examples
#' m <- Matrix::rsparsematrix(5, 4, 0.5, rand.x = function(n) rpois(n, 3) + 1)
#' dimnames(m) <- list(paste0("g", 1:5), paste0("c", 1:4))
#' obj <- SeuratObject::CreateSeuratObject(counts = m)
#' emb <- matrix(rnorm(8), 4, 2, dimnames = list(colnames(m), NULL))
#' obj <- AddMinNetEmbedding(obj, emb, assay = "RNA")
AddMinNetEmbedding <- function(object, embeddings, reduction.name = "minnet",
                               reduction.key = "minnet_", assay = NULL) {
  .check_seurat(object, "object")
  assay <- assay %||% SeuratObject::DefaultAssay(object)
  .check_assay(object, assay)
  .check_string(reduction.name, "reduction.name")
  .check_key(reduction.key)
  object <- .add_reduction(object, embeddings, reduction.name, reduction.key, assay)
  embeddings <- sprintf("<%d x %d matrix>", NROW(embeddings), NCOL(embeddings))
  command <- SeuratObject::LogSeuratCommand(object, return.command = TRUE)
  .store_command(object, command, paste0("AddMinNetEmbedding.", assay), assay)
}
