# Finding and loading the MinNet Python core through reticulate.

.minnet_state <- new.env(parent = emptyenv())

.install_hint <- paste0(
  "Fix: run `bash scripts/install.sh` (or `make install`) in the MinNet source tree, which ",
  "installs the Python core into its .venv and points this package at it; or call ",
  "SetMinNetPython(\"/path/to/venv/bin/python\") with a Python where `import minnet` works ",
  "(before any other use of Python in this R session)."
)

# The interpreter recorded by scripts/install.sh in the installed package (python_path).
.recorded_python <- function() {
  f <- system.file("python_path", package = "minnet")
  if (!nzchar(f)) {
    return(NA_character_)
  }
  p <- trimws(readLines(f, n = 1L, warn = FALSE))
  if (length(p) == 0L || !nzchar(p)) NA_character_ else p
}

# Resolve the interpreter and where it came from, in order of precedence.
.resolve_python <- function() {
  candidates <- list(
    "option minnet.python" = getOption("minnet.python", NULL),
    "environment variable MINNET_PYTHON" = Sys.getenv("MINNET_PYTHON", ""),
    "environment variable RETICULATE_PYTHON" = Sys.getenv("RETICULATE_PYTHON", ""),
    "scripts/install.sh (recorded at install time)" = .recorded_python()
  )
  for (src in names(candidates)) {
    p <- candidates[[src]]
    if (!is.null(p) && length(p) == 1L && !is.na(p) && nzchar(p)) {
      return(list(python = path.expand(as.character(p)), source = src))
    }
  }
  list(python = NA_character_, source = "reticulate's default discovery")
}

.python_initialized <- function() {
  reticulate::py_available(initialize = FALSE)
}

.active_python <- function() {
  if (!.python_initialized()) {
    return(NA_character_)
  }
  tryCatch(reticulate::py_config()$python, error = function(e) NA_character_)
}

# An absolute path that keeps the last link: a virtual environment's bin/python is a link
# to the base interpreter, and resolving it would lose the environment.
.abs_path <- function(p) {
  file.path(normalizePath(dirname(path.expand(p)), mustWork = FALSE), basename(p))
}

.same_file <- function(a, b) {
  if (is.na(a) || is.na(b)) {
    return(FALSE)
  }
  identical(.abs_path(a), .abs_path(b))
}

#' Report the Python interpreter that runs the MinNet core
#'
#' The R package runs every computation in the MinNet Python core through
#' \pkg{reticulate}. The interpreter is looked up, in this order, in
#' `getOption("minnet.python")` (set by [SetMinNetPython()]), the environment variables
#' `MINNET_PYTHON` and `RETICULATE_PYTHON`, and the path recorded by the project's install
#' command (`scripts/install.sh` writes its `.venv` Python into the installed package);
#' without any of these reticulate's own discovery is used.
#'
#' @return The interpreter path (a character scalar of class `MinNetPython`, `NA` when none
#'   is configured) with attributes `source` (where it came from), `active` (the interpreter
#'   Python already runs in this session, or `NA`) and `core` (the MinNet core version once
#'   loaded, else `NA`); `as.character()` gives the bare path.
#' @seealso [SetMinNetPython()] to choose the interpreter, [IsMinNetAvailable()] to test it.
#' @export
#' @examples
#' GetMinNetPython()
GetMinNetPython <- function() {
  res <- .resolve_python()
  core <- .minnet_state$core
  structure(
    res$python,
    source = res$source,
    active = .active_python(),
    core = if (is.null(core)) NA_character_ else .minnet_state$version,
    class = "MinNetPython"
  )
}

#' Set the Python interpreter that runs the MinNet core
#'
#' Stores the interpreter in `options(minnet.python = path)` for this session (set that
#' option in `.Rprofile` to make it permanent). reticulate binds one Python per R session:
#' set the interpreter before any MinNet function (or other reticulate code) has started
#' Python, otherwise restart R.
#'
#' @param path The path of a Python executable, or of a virtual environment's folder (such
#'   as the project's `.venv`).
#'
#' @return The interpreter's path, invisibly.
#' @seealso [GetMinNetPython()] for where the interpreter comes from.
#' @export
#' @examples
#' \dontrun{
#' SetMinNetPython("~/MinNet/.venv")
#' }
SetMinNetPython <- function(path) {
  if (missing(path) || !is.character(path) || length(path) != 1L || is.na(path) ||
      !nzchar(path)) {
    .stopf("`path` must be the path of a Python executable (a single string).")
  }
  path <- path.expand(path)
  if (dir.exists(path)) {
    # a virtual environment's folder (e.g. the project's .venv): its interpreter
    exe <- file.path(path, c("bin/python", "bin/python3", "Scripts/python.exe"))
    exe <- exe[file.exists(exe)]
    if (length(exe) == 0L) {
      .stopf("'%s' is a folder without bin/python. %s", path, .install_hint)
    }
    path <- exe[1]
  }
  if (!file.exists(path)) {
    .stopf("no Python interpreter at '%s'. %s", path, .install_hint)
  }
  path <- .abs_path(path)
  active <- .active_python()
  if (!is.na(active) && !.same_file(active, path)) {
    warning(sprintf(paste0(
      "Python is already running in this R session (%s); reticulate cannot switch to '%s'. ",
      "Restart R and call SetMinNetPython() first."), active, path), call. = FALSE)
  }
  options(minnet.python = path)
  invisible(path)
}

#' Print the MinNet Python interpreter
#'
#' @param x A value returned by [GetMinNetPython()].
#' @param ... Ignored.
#' @return `x`, invisibly.
#' @export
print.MinNetPython <- function(x, ...) {
  active <- attr(x, "active")
  core <- attr(x, "core")
  cat("MinNet Python:", if (is.na(x)) "(not configured)" else as.character(x), "\n")
  cat("  from:", attr(x, "source"), "\n")
  cat("  running in this session:", if (is.na(active)) "not started yet" else active, "\n")
  cat("  core:", if (is.na(core)) "not loaded yet" else paste("minnet", core), "\n")
  invisible(x)
}

#' Is the MinNet Python core available?
#'
#' Tries to load the core (starting Python with the interpreter chosen by
#' [GetMinNetPython()] if needed) and reports whether it worked, without an error.
#'
#' @return `TRUE` or `FALSE`; when `FALSE`, attribute `message` says why and how to fix it.
#' @export
#' @examples
#' if (IsMinNetAvailable()) GetMinNetPython()
IsMinNetAvailable <- function() {
  res <- .load_core()
  if (isTRUE(res$ok)) TRUE else structure(FALSE, message = res$message)
}

.first_line <- function(msg) {
  lines <- strsplit(as.character(msg), "\n", fixed = TRUE)[[1]]
  lines <- trimws(lines[nzchar(trimws(lines))])
  if (length(lines) == 0L) "unknown error" else lines[[1]]
}

.load_core <- function() {
  if (!is.null(.minnet_state$core)) {
    return(list(ok = TRUE))
  }
  want <- .resolve_python()
  fail <- function(why, python = want$python) {
    where <- if (is.na(python)) "the Python reticulate found" else sprintf("'%s'", python)
    list(ok = FALSE, message = sprintf(
      "MinNet's Python core is not available: %s (Python: %s, from %s). %s",
      why, where, want$source, .install_hint))
  }
  active <- .active_python()
  if (is.na(active)) {
    if (!is.na(want$python)) {
      if (!file.exists(want$python)) {
        return(fail("the interpreter does not exist"))
      }
      # reticulate reads RETICULATE_PYTHON first when it starts Python.
      Sys.setenv(RETICULATE_PYTHON = want$python)
    }
  } else if (!is.na(want$python) && !.same_file(active, want$python)) {
    mod_ok <- tryCatch(reticulate::py_module_available("minnet"), error = function(e) FALSE)
    if (!mod_ok) {
      return(fail(sprintf(paste0(
        "this R session already runs Python '%s' (reticulate binds one per session) ",
        "and it cannot import minnet; restart R"), active), active))
    }
  }
  core <- tryCatch(reticulate::import("minnet", convert = TRUE), error = function(e) e)
  if (inherits(core, "error")) {
    return(fail(.first_line(conditionMessage(core)), .active_python()))
  }
  bridge_dir <- system.file("python", package = "minnet")
  bridge <- tryCatch(reticulate::import_from_path("minnet_rbridge", path = bridge_dir,
                                                  convert = TRUE),
                     error = function(e) e)
  if (inherits(bridge, "error")) {
    return(fail(paste("the R bridge module failed to load:",
                      .first_line(conditionMessage(bridge))), .active_python()))
  }
  .minnet_state$core <- core
  .minnet_state$bridge <- bridge
  # The same module without conversion, for Python objects that go straight back to Python
  # (AnnData, DataFrame): converting a DataFrame to R and back would lose types.
  .minnet_state$bridge_raw <- reticulate::import_from_path("minnet_rbridge", path = bridge_dir,
                                                           convert = FALSE)
  .minnet_state$version <- as.character(core$`__version__`)
  list(ok = TRUE)
}

# The minnet Python module, or one clear error naming the fix.
.core <- function() {
  res <- .load_core()
  if (!isTRUE(res$ok)) {
    stop(res$message, call. = FALSE)
  }
  .minnet_state$core
}

.bridge <- function() {
  .core()
  .minnet_state$bridge
}

.bridge_raw <- function() {
  .core()
  .minnet_state$bridge_raw
}

# The core's fixes that name its Python API, in R's spelling (regular expressions).
.r_spelling <- c(
  "MinNetModel\\.save\\(\\)" = "SaveMinNet()",
  "\\(MinNetModel\\.save\\)" = "(SaveMinNet())",
  "minnet\\.load\\(\\)" = "LoadMinNet()",
  "Pass the peaks, or minnet\\.pp\\.gene_activity\\(.*$" =
    "Embed the peak assay instead (e.g. assay = 'peaks'): the model computes gene activity from it."
)

# A message of the core with its Python fixes in R's spelling.
.r_message <- function(msg) {
  for (py in names(.r_spelling)) {
    msg <- gsub(py, .r_spelling[[py]], msg, perl = TRUE)
  }
  msg
}

# Run Python code; a Python exception becomes one R error with the exception's message.
# `rename` (Python name = R name) puts the R argument names into the core's message, so
# "n_neighbors must be an integer >= 1" reads "`k` must be an integer >= 1" in R.
.py_call <- function(expr, what, rename = NULL) {
  tryCatch(expr, error = function(e) {
    msg <- conditionMessage(e)
    # reticulate appends the Python traceback; keep the exception line(s).
    msg <- sub("\n+Detailed traceback:.*$", "", msg)
    msg <- sub("\n+Traceback \\(most recent call last\\):.*$", "", msg)
    msg <- sub("^[A-Za-z_.]*(MinNetInputError|ModelFileError): ", "", trimws(msg))
    msg <- .r_message(msg)
    for (py in names(rename)) {
      msg <- gsub(sprintf("\\b%s\\b", py), sprintf("`%s`", rename[[py]]), msg, perl = TRUE)
    }
    stop(sprintf("%s failed: %s", what, msg), call. = FALSE)
  })
}

# Python's name of each R argument: dots become underscores (n.bulks -> n_bulks).
.py_names <- function(r_names) {
  if (length(r_names) == 0L) {
    return(character())
  }
  stats::setNames(r_names, gsub(".", "_", r_names, fixed = TRUE))
}

# A number for the core: whole numbers as integers (Python's int), anything else unchanged so
# that the core's own check reports it (as.integer() would silently truncate 2.5).
.py_num <- function(x) {
  if (is.numeric(x) && length(x) == 1L && !is.na(x) && is.finite(x) && x == round(x) &&
      abs(x) < .Machine$integer.max) {
    return(as.integer(x))
  }
  x
}
