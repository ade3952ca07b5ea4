# Input checks done in R, before any Python is started: the Seurat side (objects, assays,
# slots, reductions, metadata columns, cells) and values R itself acts on. Numbers and choices
# that go straight to the core are checked there (its message reaches R through .py_call).

.stopf <- function(...) stop(sprintf(...), call. = FALSE)

.check_seurat <- function(x, arg) {
  if (!inherits(x, "Seurat")) {
    .stopf("`%s` must be a Seurat object, got an object of class '%s'.", arg,
           paste(class(x), collapse = "/"))
  }
  # checked here, before an empty matrix could pass for a data-only assay
  if (length(SeuratObject::Cells(x)) == 0L) {
    .stopf("`%s` has no cells (a Seurat object with 0 cells, e.g. from a subset() that kept none); give it at least one cell.",
           arg)
  }
  invisible(x)
}

# Feature or cell names that would be ambiguous in the core (Seurat makes them unique when
# it builds an assay, but edited slots or Signac peaks with equal ranges can repeat them).
.check_unique_names <- function(names, assay, kind = c("feature", "cell")) {
  kind <- match.arg(kind)
  dup <- unique(names[duplicated(names)])
  if (length(dup) == 0L) {
    return(invisible(names))
  }
  fix <- if (kind == "feature") {
    getter <- if ("LayerData" %in% getNamespaceExports("SeuratObject")) {
      sprintf("LayerData(object, assay = '%s', layer = 'counts')", assay)
    } else {
      sprintf("GetAssayData(object, assay = '%s', slot = 'counts')", assay)
    }
    sprintf("make them unique, e.g. counts <- %s; rownames(counts) <- make.unique(rownames(counts)); object[['%s']] <- CreateAssayObject(counts = counts)",
            getter, assay)
  } else {
    "make them unique, e.g. object <- RenameCells(object, new.names = make.unique(Cells(object)))"
  }
  .stopf("assay '%s' has %d duplicated %s names (e.g. %s): MinNet cannot tell them apart; %s.",
         assay, sum(duplicated(names)), kind,
         paste(sprintf("'%s'", utils::head(dup, 3)), collapse = ", "), fix)
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

.check_model <- function(model, arg = "model") {
  if (!inherits(model, "MinNetModel")) {
    .stopf("`%s` must be a MinNet model from TrainMinNet() or LoadMinNet(), got class '%s'.",
           arg, paste(class(model), collapse = "/"))
  }
  # the fields R reads before Python (a handle edited or half-restored by hand)
  ok <- is.character(model$modalities) && length(model$modalities) == 2L &&
    is.list(model$features) && all(model$modalities %in% names(model$features))
  if (!ok) {
    .stopf("`%s` is a damaged MinNet model handle (its modalities or features are missing). %s",
           arg, .model_fix(model))
  }
  invisible(model)
}

# How to get a working handle back: from the file it was loaded from, when known.
.model_fix <- function(model) {
  file <- model$file
  if (is.character(file) && length(file) == 1L && !is.na(file)) {
    return(sprintf("Fix: load it again with LoadMinNet('%s'), or retrain with TrainMinNet().",
                   file))
  }
  "Fix: load the model file again with LoadMinNet(), or retrain with TrainMinNet(); a handle read with readRDS() needs an undamaged .rds file."
}

# The fingerprint of the model that made a reduction (RunMinNet() records it in the
# DimReduc's misc); NULL for reductions made elsewhere or by an older minnet.
.reduction_model <- function(object, reduction) {
  fp <- methods::slot(object[[reduction]], "misc")[["minnet"]][["model"]]
  if (is.character(fp) && length(fp) == 1L && !is.na(fp)) fp else NULL
}

# Refuse co-embeddings that different models made: their spaces are not comparable.
# `models`: named fingerprints (NULL entries are not checked); `check.model = FALSE` warns.
.check_same_model <- function(models, reduction, check.model = TRUE) {
  if (!isTRUE(check.model) && !isFALSE(check.model)) {
    .stopf("`check.model` must be TRUE or FALSE.")
  }
  models <- Filter(Negate(is.null), models)
  if (length(unique(unlist(models))) <= 1L) {
    return(invisible(TRUE))
  }
  msg <- sprintf("reduction '%s' was made by different MinNet models (%s): their co-embeddings are not comparable",
                 reduction, paste(sprintf("%s: %s", names(models), unlist(models)),
                                  collapse = "; "))
  if (check.model) {
    .stopf("%s. Fix: run RunMinNet() on every object with the same model, or pass check.model = FALSE if you are sure they share one space.",
           msg)
  }
  warning(msg, "; going on because check.model = FALSE.", call. = FALSE)
  invisible(FALSE)
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
