# Input checks done in R, before any Python is started: the Seurat side (objects, assays,
# slots, reductions, metadata columns, cells) and values R itself acts on. Numbers and choices
# that go straight to the core are checked there (its message reaches R through .py_call).

.stopf <- function(...) stop(sprintf(...), call. = FALSE)

.check_seurat <- function(x, arg) {
  if (!inherits(x, "Seurat")) {
    .stopf("`%s` must be a Seurat object, got an object of class '%s'.", arg,
           paste(class(x), collapse = "/"))
  }
  invisible(x)
}

.check_string <- function(x, arg, null.ok = FALSE) {
  if (is.null(x) && null.ok) {
    return(invisible(x))
  }
  if (!is.character(x) || length(x) != 1L || is.na(x) || !nzchar(x)) {
    .stopf("`%s` must be a single non-empty string.", arg)
  }
  invisible(x)
}

.check_count <- function(x, arg, min = 1) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || x != round(x) || x < min) {
    .stopf("`%s` must be a whole number >= %s, got %s.", arg, format(min),
           paste(format(x), collapse = ", "))
  }
  invisible(as.integer(x))
}

.check_assay <- function(object, assay, arg = "assay", what = "object") {
  .check_string(assay, arg)
  have <- SeuratObject::Assays(object)
  if (!assay %in% have) {
    .stopf("assay '%s' (argument `%s`) is not in %s; its assays are: %s.", assay, arg, what,
           paste(sprintf("'%s'", have), collapse = ", "))
  }
  invisible(assay)
}

# A metadata column of `object` (its values are checked by the core, which reads them).
.check_meta <- function(object, column, arg, what = "object", hint = "") {
  .check_string(column, arg)
  meta <- object[[]]
  if (!column %in% colnames(meta)) {
    shown <- utils::head(colnames(meta), 20)
    .stopf("metadata column '%s' (argument `%s`) is not in %s; available columns: %s.%s",
           column, arg, what, paste(sprintf("'%s'", shown), collapse = ", "), hint)
  }
  invisible(column)
}

.check_reduction <- function(object, reduction, arg = "reduction", what = "object") {
  .check_string(reduction, arg)
  have <- SeuratObject::Reductions(object)
  if (!reduction %in% have) {
    .stopf("reduction '%s' is not in %s (reductions: %s); add it with RunMinNet() first.",
           reduction, what, if (length(have)) paste(sprintf("'%s'", have), collapse = ", ") else "none")
  }
  invisible(reduction)
}

.check_key <- function(key, arg = "reduction.key") {
  .check_string(key, arg)
  if (!grepl("^[A-Za-z][A-Za-z0-9]*_$", key)) {
    .stopf("`%s` must be letters/digits ending in an underscore, like 'minnet_'; got '%s'.",
           arg, key)
  }
  invisible(key)
}

.check_slot <- function(slot) {
  .check_string(slot, "slot")
  if (!slot %in% c("counts", "data")) {
    .stopf("`slot` must be 'counts' (raw counts, normalised by the core) or 'data' (already normalised), got '%s'.", slot)
  }
  invisible(slot)
}

.check_model <- function(model) {
  if (!inherits(model, "MinNetModel")) {
    .stopf("`model` must be a MinNet model from TrainMinNet() or LoadMinNet(), got class '%s'.",
           paste(class(model), collapse = "/"))
  }
  invisible(model)
}

.check_modality <- function(modality, allowed = c("rna", "atac", "adt")) {
  .check_string(modality, "modality")
  m <- tolower(modality)
  if (!m %in% allowed) {
    .stopf("`modality` must be one of %s, got '%s'.",
           paste(sprintf("'%s'", allowed), collapse = ", "), modality)
  }
  m
}

# Store the SeuratCommand made by LogSeuratCommand(return.command = TRUE) under the
# function's own name (Seurat would derive it from the call, which differs for
# minnet::Fn(), do.call() and deprecated aliases), naming the assay it used when Seurat could
# not tell (avoids Seurat's "command log without an assay" warning).
.store_command <- function(object, command, name, assay) {
  command@name <- name
  if (length(command@assay.used) == 0L) {
    command@assay.used <- assay
  }
  object[[name]] <- command
  object
}
