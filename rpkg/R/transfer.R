# Label transfer in the co-embedding, and storing predicted labels the way Seurat does.

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
#' `AddMetaData` (the names Seurat's `MapQuery` uses). [TransferMinNetLabels()] does this for
#' you; use this function for labels computed in Python (`minnet.tl.transfer_labels`).
#'
#' @param object A Seurat object.
#' @param labels Predicted labels, named by cell (or in the object's cell order).
#' @param scores Their confidences in `[0, 1]`, in the same order as `labels`.
#' @param refdata The name of the transferred annotation (e.g. `"celltype"`).
#'
#' @return `object` with the two columns added (and the command logged as
#'   `AddMinNetPredictions`).
#' @export
#' @examples
#' m <- Matrix::rsparsematrix(5, 4, 0.5, rand.x = function(n) rpois(n, 3) + 1)
#' dimnames(m) <- list(paste0("g", 1:5), paste0("c", 1:4))
#' obj <- SeuratObject::CreateSeuratObject(counts = m)
#' obj <- AddMinNetPredictions(obj, c("B", "T", "T", "B"), c(1, 0.8, 0.9, 0.6))
#' obj$predicted.celltype
AddMinNetPredictions <- function(object, labels, scores, refdata = "celltype") {
  .check_seurat(object, "object")
  .check_string(refdata, "refdata")
  if (!is.numeric(scores)) .stopf("`scores` must be numeric.")
  object <- .add_predictions(object, refdata, labels, scores)
  labels <- sprintf("<%d labels>", length(labels))
  scores <- sprintf("<%d scores>", length(scores))
  command <- SeuratObject::LogSeuratCommand(object, return.command = TRUE)
  .store_command(object, command, "AddMinNetPredictions", SeuratObject::DefaultAssay(object))
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
#' The core's `minnet.tl.transfer_labels` does the work, and its defaults are these (a test
#' compares them), with two on purpose: `refdata` (the core's `label_key`) defaults to
#' `"celltype"`, the R spelling of the core's `cell_type`; and `reduction = "minnet"` is the
#' core's `use_rep = "X_minnet"` (Seurat's reduction name, not AnnData's `obsm` key).
#'
#' @param query Seurat object to label, with reduction `reduction` (from [RunMinNet()]).
#' @param reference Labelled Seurat object with the same reduction.
#' @param refdata Metadata column of `reference` to transfer.
#' @param reduction The co-embedding reduction in both objects.
#' @param k Reference neighbours voting for each query cell (the core's `n_neighbors`).
#' @param min.confidence If given, cells whose score is below it are labelled `unassigned`.
#' @param unassigned Label of low-confidence cells.
#' @param model Optional `MinNetModel` (the one behind `reduction`) whose classifier votes too.
#' @param assay With `model`: the query assay it reads (default: the default assay).
#' @param modality With `model`: what `assay` holds, one of the model's modalities.
#' @param slot With `model`: the slot of `assay` with raw counts (`"counts"`; the
#'   classifier reads raw counts).
#' @param head.weight With `model`: the classifier's share of the blend, in \[0, 1\].
#' @param check.model Refuse (`TRUE`) or only warn about (`FALSE`) reductions that different
#'   models made: [RunMinNet()] records its model's fingerprint in the reduction, and the
#'   reference's, the query's and `model`'s must agree (reductions without one, e.g. from
#'   [AddMinNetEmbedding()], are not checked). The core's `check_model`.
#'
#' @return `query` with the two metadata columns added (and the command logged as
#'   `TransferMinNetLabels`).
#' @export
#' @examples
#' \dontrun{
#' atac <- TransferMinNetLabels(atac, reference = rna, refdata = "celltype")
#' table(atac$predicted.celltype)
#' # blended with the model's classifier
#' atac <- TransferMinNetLabels(atac, reference = rna, refdata = "celltype", model = model,
#'                              assay = "peaks", modality = "atac")
#' }
TransferMinNetLabels <- function(query, reference, refdata = "celltype", reduction = "minnet",
                                 k = 30, min.confidence = NULL, unassigned = "unassigned",
                                 model = NULL, assay = NULL, modality = NULL, slot = "counts",
                                 head.weight = 0.5, check.model = TRUE) {
  .check_seurat(query, "query")
  .check_seurat(reference, "reference")
  .check_reduction(query, reduction, what = "query")
  .check_reduction(reference, reduction, what = "reference")
  .check_meta(reference, refdata, "refdata", "reference")
  .check_string(unassigned, "unassigned")   # the core takes any value as the label
  models <- list(reference = .reduction_model(reference, reduction),
                 query = .reduction_model(query, reduction))
  if (!is.null(model)) {
    .check_model(model)
    models[["`model`"]] <- .model_fingerprint(model)
  }
  .check_same_model(models, reduction, check.model)
  ref <- SeuratObject::Embeddings(reference[[reduction]])
  qry <- SeuratObject::Embeddings(query[[reduction]])

  raw <- py_model <- NULL
  if (!is.null(model)) {
    if (is.null(modality)) {
      .stopf("`model` needs `modality`: what assay '%s' holds, one of the model's modalities (%s).",
             assay %||% SeuratObject::DefaultAssay(query),
             paste(sprintf("'%s'", model$modalities), collapse = ", "))
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

  # k, min.confidence, head.weight, the labels and the embeddings' widths are checked by the
  # core.
  .core()
  res <- .py_call(
    .bridge()$transfer(.embedding_adata(ref, reference[[]], refdata), .embedding_adata(qry),
                       refdata, .py_num(k), min.confidence, unassigned, py_model, raw,
                       modality, head.weight),
    "TransferMinNetLabels",
    c(n_neighbors = "k", min_confidence = "min.confidence", head_weight = "head.weight")
  )
  labels <- as.character(unlist(res$label))
  scores <- as.numeric(res$score)
  names(labels) <- names(scores) <- rownames(qry)
  query <- .add_predictions(query, refdata, labels, scores)
  if (!is.null(model)) model <- sprintf("<MinNetModel %s>", paste(model$modalities, collapse = "+"))
  command <- SeuratObject::LogSeuratCommand(query, return.command = TRUE)
  .store_command(query, command, "TransferMinNetLabels",
                 assay %||% SeuratObject::DefaultAssay(query))
}
