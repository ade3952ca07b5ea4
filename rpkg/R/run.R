# Embedding Seurat data with a trained model; label transfer in the co-embedding.

#' Co-embed the cells of a Seurat object with a MinNet model
#'
#' Embeds one modality of (paired or unpaired) cells into the model's co-embedding and
#' stores it as a reduction, so `RunUMAP(object, reduction = "minnet", dims = 1:32)` and
#' `FindNeighbors(object, reduction = "minnet", dims = 1:32)` work as with any reduction.
#' Raw counts are handed to the core, which normalises them and aligns the features to the
#' model's (missing features count as zero). ATAC may be given as gene activity or, when the
#' model was trained with an annotation, as peaks.
#'
#' @param object A Seurat object.
#' @param model A `MinNetModel` from [TrainMinNet()] or [LoadMinNet()].
#' @param assay The assay to embed (default: the default assay).
#' @param modality What `assay` holds: `"rna"`, `"atac"` or `"adt"` (one of the model's).
#' @param reduction.name Name of the reduction to add.
#' @param reduction.key Key of the reduction (column prefix).
#' @param slot `"counts"` (default: raw counts) or `"data"` (already normalised values).
#' @param batch Optional metadata column: each batch is scaled on its own statistics.
#' @param verbose Print what is embedded.
#'
#' @return `object` with the reduction `reduction.name` added (and the command logged).
#' @export
#' @examples
#' \dontrun{
#' rna <- RunMinNet(rna, model, assay = "RNA", modality = "rna")
#' rna <- Seurat::RunUMAP(rna, reduction = "minnet", dims = 1:32)
#' }
RunMinNet <- function(object, model, assay = NULL, modality, reduction.name = "minnet",
                      reduction.key = "minnet_", slot = "counts", batch = NULL,
                      verbose = TRUE) {
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
  z <- .embed_matrix(object, model, assay, modality, slot, batch, verbose)
  object <- .add_reduction(object, z, reduction.name, reduction.key, assay)
  model <- sprintf("<MinNetModel %s>", paste(model$modalities, collapse = "+"))
  SeuratObject::LogSeuratCommand(object)
}

# The co-embedding (cells x dimensions, rows named by cell) of one assay: checks in R, then
# the core's model.embed().
.embed_matrix <- function(object, model, assay, modality, slot = "counts", batch = NULL,
                          verbose = TRUE) {
  modality <- .check_modality(modality)
  input <- .model_input(object, model, assay, modality, slot, batch, verbose)
  py <- .py_model(model)
  if (verbose) {
    message(sprintf("RunMinNet: embedding %d cells of assay '%s' as %s.",
                    length(input$cells), assay, modality))
  }
  z <- .py_call(.bridge()$embed(py, input$adata, modality, identical(slot, "data"), batch),
                "RunMinNet")
  matrix(as.numeric(z), nrow = length(input$cells), dimnames = list(input$cells, NULL))
}

# One assay as the AnnData the model reads (`adata`) and its cell names (`cells`), after the
# R-side checks (modality known to the model, features or peaks it can use).
.model_input <- function(object, model, assay, modality, slot = "counts", batch = NULL,
                         verbose = TRUE) {
  if (!modality %in% model$modalities) {
    .stopf("this model was trained on %s; it cannot embed modality '%s'.",
           paste(model$modalities, collapse = " + "), modality)
  }
  .check_slot(slot)
  if (!is.null(batch)) .check_meta(object, batch, "batch")
  pieces <- MinNetAnnDataPieces(object, assay, slot)
  pieces$var_names <- .match_model_features(pieces$var_names, model$features[[modality]],
                                            verbose)
  if (modality == "atac" && .looks_like_peaks(pieces$var_names)) {
    if (!isTRUE(model$has.annotation)) {
      .stopf("assay '%s' holds peaks but the model has no gene annotation to compute gene activity; embed a gene-activity assay (e.g. Signac's GeneActivity) instead, or train with `annotation`.",
             assay)
    }
    if (slot != "counts") {
      .stopf("assay '%s' holds peaks: gene activity is computed from raw counts, use slot = 'counts'.",
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

.add_predictions <- function(object, refdata, labels, scores) {
  cells <- SeuratObject::Cells(object)
  if (is.null(names(labels))) {
    if (length(labels) != length(cells)) {
      .stopf("`labels` must be named by cell or have one value per cell (%d), got %d.",
             length(cells), length(labels))
    }
    names(labels) <- cells
  }
  if (is.null(names(scores))) {
    if (length(scores) != length(labels)) {
      .stopf("`scores` must have one value per label.")
    }
    names(scores) <- names(labels)
  }
  if (!all(names(labels) %in% cells)) {
    .stopf("%d labelled cells are not in the object.", sum(!names(labels) %in% cells))
  }
  md <- data.frame(row.names = cells, check.names = FALSE,
                   as.character(labels[cells]), as.numeric(scores[cells]))
  colnames(md) <- paste0("predicted.", refdata, c("", ".score"))
  SeuratObject::AddMetaData(object, md)
}

#' Store predicted labels the way Seurat does
#'
#' Adds metadata columns `predicted.<refdata>` and `predicted.<refdata>.score` with
#' `AddMetaData` (the names Seurat's `MapQuery` uses). [MinNetTransferLabels()] does this for
#' you; use this function for labels computed in Python (`minnet.tl.transfer_labels`).
#'
#' @param object A Seurat object.
#' @param labels Predicted labels, named by cell (or in the object's cell order).
#' @param scores Their confidences in `[0, 1]`, in the same order as `labels`.
#' @param refdata The name of the transferred annotation (e.g. `"celltype"`).
#'
#' @return `object` with the two columns added (and the command logged).
#' @export
#' @examples
#' m <- Matrix::rsparsematrix(5, 4, 0.5, rand.x = function(n) rpois(n, 3) + 1)
#' dimnames(m) <- list(paste0("g", 1:5), paste0("c", 1:4))
#' obj <- SeuratObject::CreateSeuratObject(counts = m)
#' obj <- MinNetAddPredictions(obj, c("B", "T", "T", "B"), c(1, 0.8, 0.9, 0.6))
#' obj$predicted.celltype
MinNetAddPredictions <- function(object, labels, scores, refdata = "celltype") {
  .check_seurat(object, "object")
  .check_string(refdata, "refdata")
  if (!is.numeric(scores)) .stopf("`scores` must be numeric.")
  object <- .add_predictions(object, refdata, labels, scores)
  labels <- sprintf("<%d labels>", length(labels))
  scores <- sprintf("<%d scores>", length(scores))
  command <- SeuratObject::LogSeuratCommand(object, return.command = TRUE)
  .store_command(object, command, SeuratObject::DefaultAssay(object))
}

#' Transfer labels from a reference to a query in the MinNet co-embedding
#'
#' Each query cell gets the distance-weighted vote of its `k` nearest reference cells in
#' the co-embedding, computed by the core's `minnet.tl.transfer_labels` (a neighbour at
#' distance d votes with weight `exp(-d / mean neighbour distance)`); the score is the
#' winning label's share of the vote. Reference cells without a label (`NA`) do not vote.
#' Results are stored as `predicted.<refdata>` and `predicted.<refdata>.score`, the names
#' Seurat's `TransferData`/`MapQuery` use.
#'
#' With `model`, the vote is blended with the model's own cell-type classifier run on the
#' query's `assay`: `(1 - head.weight) * vote + head.weight * classifier`, which labels
#' held-out cells better than either alone when the reference is annotated like the training
#' data.
#'
#' @param query Seurat object to label, with reduction `reduction` (from [RunMinNet()]).
#' @param reference Labelled Seurat object with the same reduction.
#' @param refdata Metadata column of `reference` to transfer.
#' @param reduction The co-embedding reduction in both objects.
#' @param k Reference neighbours voting for each query cell.
#' @param min.confidence If given, cells whose score is below it are labelled `unassigned`.
#' @param unassigned Label of low-confidence cells.
#' @param model Optional `MinNetModel` (the one behind `reduction`) whose classifier votes too.
#' @param assay With `model`: the query assay it reads (default: the default assay).
#' @param modality With `model`: what `assay` holds, one of the model's modalities.
#' @param slot With `model`: the slot of `assay` with raw counts (`"counts"`; the
#'   classifier reads raw counts).
#' @param head.weight With `model`: the classifier's share of the blend, in \[0, 1\].
#'
#' @return `query` with the two metadata columns added (and the command logged).
#' @export
#' @examples
#' \dontrun{
#' atac <- MinNetTransferLabels(atac, reference = rna, refdata = "celltype")
#' table(atac$predicted.celltype)
#' # blended with the model's classifier
#' atac <- MinNetTransferLabels(atac, reference = rna, refdata = "celltype", model = model,
#'                              assay = "peaks", modality = "atac")
#' }
MinNetTransferLabels <- function(query, reference, refdata = "celltype", reduction = "minnet",
                                 k = 30, min.confidence = NULL, unassigned = "unassigned",
                                 model = NULL, assay = NULL, modality = NULL, slot = "counts",
                                 head.weight = 0.5) {
  .check_seurat(query, "query")
  .check_seurat(reference, "reference")
  .check_reduction(query, reduction, what = "query")
  .check_reduction(reference, reduction, what = "reference")
  .check_meta(reference, refdata, "refdata", "reference", allow.na = TRUE)
  .check_count(k, "k")
  .check_string(unassigned, "unassigned")
  if (!is.null(min.confidence) &&
      (!is.numeric(min.confidence) || length(min.confidence) != 1L || is.na(min.confidence) ||
       min.confidence < 0 || min.confidence > 1)) {
    .stopf("`min.confidence` must be NULL or a number in [0, 1].")
  }
  ref <- SeuratObject::Embeddings(reference[[reduction]])
  qry <- SeuratObject::Embeddings(query[[reduction]])
  if (ncol(ref) != ncol(qry)) {
    .stopf("the '%s' embeddings of reference and query differ in width (%d vs %d); embed both with the same model.",
           reduction, ncol(ref), ncol(qry))
  }
  if (all(is.na(reference[[]][rownames(ref), refdata]))) {
    .stopf("metadata column '%s' of reference has no labelled cells.", refdata)
  }

  raw <- py_model <- NULL
  if (!is.null(model)) {
    .check_model(model)
    if (is.null(modality)) {
      .stopf("`model` needs `modality`: what assay '%s' holds, one of the model's modalities (%s).",
             assay %||% SeuratObject::DefaultAssay(query),
             paste(sprintf("'%s'", model$modalities), collapse = ", "))
    }
    if (!is.numeric(head.weight) || length(head.weight) != 1L || is.na(head.weight) ||
        head.weight < 0 || head.weight > 1) {
      .stopf("`head.weight` must be a number in [0, 1].")
    }
    if (!identical(slot, "counts")) {
      .stopf("the classifier blend reads raw counts: use slot = 'counts' (got '%s').", slot)
    }
    assay <- assay %||% SeuratObject::DefaultAssay(query)
    .check_assay(query, assay)
    modality <- .check_modality(modality)
    input <- .model_input(query, model, assay, modality, slot, NULL, FALSE)
    if (!setequal(input$cells, rownames(qry))) {
      .stopf("assay '%s' and reduction '%s' of query hold different cells.", assay, reduction)
    }
    raw <- input$adata
    py_model <- .py_model(model)
  }

  .core()
  res <- .py_call(.bridge()$transfer(
    .embedding_adata(ref, reference[[]], refdata), .embedding_adata(qry),
    refdata, as.integer(k), if (is.null(min.confidence)) NULL else as.numeric(min.confidence),
    unassigned, py_model, raw, modality, as.numeric(head.weight)
  ), "MinNetTransferLabels")
  labels <- as.character(unlist(res$label))
  scores <- as.numeric(res$score)
  names(labels) <- names(scores) <- rownames(qry)
  query <- .add_predictions(query, refdata, labels, scores)
  if (!is.null(model)) model <- sprintf("<MinNetModel %s>", paste(model$modalities, collapse = "+"))
  SeuratObject::LogSeuratCommand(query)
}
