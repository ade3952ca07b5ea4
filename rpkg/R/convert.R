# Seurat <-> AnnData pieces, without reticulate: sparse matrices cross as CSR vectors.

.so_fun <- function(name) getExportedValue("SeuratObject", name)

.as_dgc <- function(m) {
  if (inherits(m, "dgCMatrix")) {
    return(m)
  }
  if (is.matrix(m) || methods::is(m, "Matrix")) {
    m <- methods::as(methods::as(methods::as(m, "dMatrix"), "generalMatrix"), "CsparseMatrix")
    return(m)
  }
  .stopf("cannot use a matrix of class '%s'; expected a dgCMatrix or a dense matrix.",
         paste(class(m), collapse = "/"))
}

# The features x cells matrix of one assay layer: v5 layers (SeuratObject >= 5, for Assay5 and
# Assay alike), else v4 slots.
.assay_matrix <- function(object, assay, slot = "counts") {
  a <- object[[assay]]
  # an assay without cells is not an assay of normalised values only (the hint below)
  if (length(colnames(a)) == 0L) {
    .stopf("assay '%s' has no cells (the object has %d); nothing to convert: use an assay that holds the object's cells.",
           assay, length(SeuratObject::Cells(object)))
  }
  if (inherits(a, "Assay5")) {
    layers <- .so_fun("Layers")(a)
    if (!slot %in% layers) {
      split <- grep(paste0("^", slot, "\\."), layers, value = TRUE)
      if (length(split)) {
        .stopf("assay '%s' has its '%s' split into layers (%s); join them first: object <- JoinLayers(object).",
               assay, slot, paste(split, collapse = ", "))
      }
      hint <- if (slot == "counts") " (an assay of normalised values only: use slot = 'data')" else ""
      .stopf("assay '%s' has no '%s' layer (layers: %s)%s.", assay, slot,
             paste(layers, collapse = ", "), hint)
    }
    m <- .so_fun("LayerData")(a, layer = slot)
  } else if ("LayerData" %in% getNamespaceExports("SeuratObject")) {
    # SeuratObject 5 deprecates GetAssayData(slot =) for v4 assays too; its LayerData() would
    # subset by cell names (failing on the duplicated names checked later), so read the slot
    m <- if (slot %in% methods::slotNames(a)) methods::slot(a, slot) else
      .so_fun("LayerData")(a, layer = slot)
  } else {
    m <- SeuratObject::GetAssayData(a, slot = slot)
  }
  if (nrow(m) == 0L || ncol(m) == 0L) {
    hint <- if (slot == "counts") " (an assay made from normalised values only: use slot = 'data')" else ""
    .stopf("assay '%s' has an empty '%s' slot%s.", assay, slot, hint)
  }
  if (is.null(rownames(m)) || is.null(colnames(m))) {
    dimnames(m) <- list(rownames(a), colnames(a))
  }
  .as_dgc(m)
}

# A Signac peak assay (v1 ChromatinAssay, or its Assay5-based successor), usable only when
# Signac is installed.
.is_chromatin_assay <- function(a) {
  (inherits(a, "ChromatinAssay") || any(startsWith(class(a), "ChromatinAssay"))) &&
    requireNamespace("Signac", quietly = TRUE)
}

# Feature names handed to the core: peak assays that are Signac ChromatinAssays are named
# from their ranges ("chr-start-end"), everything else by its row names.
.feature_names <- function(object, assay, m) {
  a <- object[[assay]]
  if (.is_chromatin_assay(a)) {
    # Signac's granges() method for its assays is registered on GenomicRanges' generic
    gr <- GenomicRanges::granges(a)
    df <- BiocGenerics::as.data.frame(gr)
    if (nrow(df) == nrow(m)) {
      return(paste(df$seqnames, df$start, df$end, sep = "-"))
    }
  }
  rownames(m)
}

# Feature names that look like peaks (chr-start-end and friends), from the first 50.
.looks_like_peaks <- function(names) {
  names <- utils::head(names, 50)
  length(names) > 0L && all(grepl("[-:_][0-9]+[-_][0-9]+$", names))
}

#' Convert a Seurat assay into the pieces of an AnnData
#'
#' The matrix of one assay (features x cells in Seurat) becomes the cells x features CSR
#' matrix of an AnnData, given as its three vectors: a `dgCMatrix`'s column pointers `@p`,
#' row indices `@i` and values `@x` are exactly the `indptr`, `indices` and `data` of the
#' transposed CSR, so nothing is copied or reordered. Python rebuilds it with
#' `scipy.sparse.csr_matrix((data, indices, indptr), shape = shape)`. Works with Seurat v4
#' `Assay` (and Signac `ChromatinAssay`) objects and with v5 `Assay5` objects where the
#' installed SeuratObject has them.
#'
#' @param object A Seurat object.
#' @param assay Assay to convert (default: the default assay).
#' @param slot `"counts"` (raw counts) or `"data"` (normalised values).
#' @param features Optional subset of features (row names), in the order wanted.
#' @param cells Optional subset of cells, in the order wanted.
#'
#' @return A list with `indptr`, `indices` (0-based), `data`, `shape` (`c(n_cells,
#'   n_features)`), `format` (`"csr"`), `obs_names` (cells), `var_names` (features; for a
#'   Signac `ChromatinAssay`, `chr-start-end` names from its ranges) and `obs` (the cells'
#'   metadata data.frame).
#' @export
#' @examples
#' m <- Matrix::rsparsematrix(5, 4, 0.5, rand.x = function(n) rpois(n, 3) + 1)
#' dimnames(m) <- list(paste0("g", 1:5), paste0("c", 1:4))
#' obj <- SeuratObject::CreateSeuratObject(counts = m)
#' str(CreateMinNetAnnDataPieces(obj))
CreateMinNetAnnDataPieces <- function(object, assay = NULL, slot = "counts", features = NULL,
                                cells = NULL) {
  .check_seurat(object, "object")
  assay <- assay %||% SeuratObject::DefaultAssay(object)
  .check_assay(object, assay)
  .check_slot(slot)
  m <- .assay_matrix(object, assay, slot)
  var_names <- .feature_names(object, assay, m)
  .check_unique_names(var_names, assay, "feature")
  .check_unique_names(colnames(m), assay, "cell")
  if (!is.null(features)) {
    idx <- match(features, rownames(m))
    if (anyNA(idx)) {
      .stopf("%d of the requested features are not in assay '%s', e.g. %s.", sum(is.na(idx)),
             assay, paste(utils::head(features[is.na(idx)], 3), collapse = ", "))
    }
    m <- m[idx, , drop = FALSE]
    var_names <- var_names[idx]
  }
  if (!is.null(cells)) {
    idx <- match(cells, colnames(m))
    if (anyNA(idx)) {
      .stopf("%d of the requested cells are not in assay '%s', e.g. %s.", sum(is.na(idx)),
             assay, paste(utils::head(cells[is.na(idx)], 3), collapse = ", "))
    }
    m <- m[, idx, drop = FALSE]
  }
  meta <- object[[]]
  obs <- meta[match(colnames(m), rownames(meta)), , drop = FALSE]
  list(
    indptr = m@p,
    indices = m@i,
    data = m@x,
    shape = c(ncol(m), nrow(m)),
    format = "csr",
    obs_names = colnames(m),
    var_names = var_names,
    obs = obs
  )
}

# Build a dgCMatrix (features x cells) from the CSC vectors of a cells x features CSR.
.dgc_from_pieces <- function(p) {
  methods::new("dgCMatrix",
               i = as.integer(p$indices), p = as.integer(p$indptr), x = as.numeric(p$data),
               Dim = c(as.integer(p$n_features), as.integer(p$n_cells)),
               Dimnames = list(as.character(p$features), as.character(p$cells)))
}

# Pieces -> AnnData in Python (reticulate), with chosen obs columns (NA stays missing) and
# obsm embeddings (cells x dimensions matrices named by cell).
.pieces_to_adata <- function(pieces, obs.columns = NULL, obsm = NULL) {
  np_array <- reticulate::np_array
  obs <- missing <- NULL
  if (length(obs.columns)) {
    cols <- stats::setNames(obs.columns, obs.columns)
    obs <- lapply(cols, function(col) np_array(as.character(pieces$obs[[col]])))
    missing <- lapply(cols, function(col) np_array(is.na(pieces$obs[[col]])))
  }
  emb <- NULL
  if (length(obsm)) {
    emb <- lapply(obsm, function(e) np_array(unname(e[pieces$obs_names, , drop = FALSE]),
                                              dtype = "float64"))
  }
  .bridge_raw()$make_adata(
    indptr = np_array(as.numeric(pieces$indptr), dtype = "int64"),
    indices = np_array(as.numeric(pieces$indices), dtype = "int64"),
    data = np_array(as.numeric(pieces$data), dtype = "float32"),
    shape = as.list(as.integer(pieces$shape)),
    obs_names = np_array(as.character(pieces$obs_names)),
    var_names = np_array(as.character(pieces$var_names)),
    obs = obs,
    obs_missing = missing,
    obsm = emb
  )
}

# An AnnData without features holding an embedding (obsm "X_minnet") and metadata columns.
.embedding_adata <- function(embeddings, meta = NULL, columns = NULL) {
  cells <- rownames(embeddings)
  pieces <- list(indptr = integer(length(cells) + 1L), indices = integer(), data = numeric(),
                 shape = c(length(cells), 0L), obs_names = cells, var_names = character(),
                 obs = if (is.null(meta)) NULL else meta[cells, , drop = FALSE])
  .pieces_to_adata(pieces, columns, list(X_minnet = embeddings))
}

# A data.frame as a dict of numpy columns.
.py_columns <- function(df) {
  lapply(as.list(df), function(col) {
    if (is.factor(col)) col <- as.character(col)
    if (is.character(col)) reticulate::np_array(col) else reticulate::np_array(as.numeric(col))
  })
}

# Where each column of a data.frame is NA (numpy would turn a missing string into "NA").
.py_missing <- function(df) {
  lapply(as.list(df), function(col) reticulate::np_array(is.na(col)))
}

# A data.frame as a pandas DataFrame (NA stays missing), for the core to read and check.
.py_frame <- function(df) {
  .bridge_raw()$frame(.py_columns(df), .py_missing(df))
}

# A dict of columns (from the bridge) as a data.frame.
.frame_from_columns <- function(cols) {
  cols <- lapply(cols, function(x) if (is.list(x)) unlist(x) else as.vector(x))
  as.data.frame(cols, stringsAsFactors = FALSE, check.names = FALSE)
}
