# The names of earlier releases: each warns once per call and runs its replacement.

#' Deprecated functions in minnet
#'
#' These names of earlier releases still work: each warns that it is deprecated (with
#' [.Deprecated()]) and calls its replacement with the same arguments. The package now names
#' its functions in Seurat's verb-noun style.
#'
#' | deprecated | use instead |
#' |---|---|
#' | `MinNetTransferLabels()` | [TransferMinNetLabels()] |
#' | `MinNetLinkPeaks()` | [LinkMinNetPeaks()] |
#' | `MinNetLinks()` | [GetMinNetLinks()] |
#' | `MinNetStoreLinks()` | [AddMinNetLinks()] |
#' | `MinNetLinksGRanges()` | [CreateMinNetLinksGRanges()] |
#' | `MinNetAnnotation()` | [CreateMinNetAnnotation()] |
#' | `MinNetSimulate()` | [SimulateMinNetData()] |
#' | `MinNetAddEmbedding()` | [AddMinNetEmbedding()] |
#' | `MinNetAddPredictions()` | [AddMinNetPredictions()] |
#' | `MinNetDimReduc()` | [CreateMinNetDimReduc()] |
#' | `MinNetAnnDataPieces()` | [CreateMinNetAnnDataPieces()] |
#' | `minnet_python()` | [GetMinNetPython()], or [SetMinNetPython()] with `path` |
#' | `minnet_available()` | [IsMinNetAvailable()] |
#'
#' Commands are logged (in `object@commands`) under the new names.
#'
#' @param ... Arguments of the replacement.
#' @param path For `minnet_python()`: `NULL` to report the interpreter
#'   ([GetMinNetPython()]), a path to set it ([SetMinNetPython()]).
#' @return What the replacement returns.
#' @name minnet-deprecated
#' @keywords internal
NULL

.deprecated <- function(old, new) {
  .Deprecated(new, package = "minnet", old = old)
}

#' @rdname minnet-deprecated
#' @export
MinNetTransferLabels <- function(...) {
  .deprecated("MinNetTransferLabels", "TransferMinNetLabels")
  TransferMinNetLabels(...)
}

#' @rdname minnet-deprecated
#' @export
MinNetLinkPeaks <- function(...) {
  .deprecated("MinNetLinkPeaks", "LinkMinNetPeaks")
  LinkMinNetPeaks(...)
}

#' @rdname minnet-deprecated
#' @export
MinNetLinks <- function(...) {
  .deprecated("MinNetLinks", "GetMinNetLinks")
  GetMinNetLinks(...)
}

#' @rdname minnet-deprecated
#' @export
MinNetStoreLinks <- function(...) {
  .deprecated("MinNetStoreLinks", "AddMinNetLinks")
  AddMinNetLinks(...)
}

#' @rdname minnet-deprecated
#' @export
MinNetLinksGRanges <- function(...) {
  .deprecated("MinNetLinksGRanges", "CreateMinNetLinksGRanges")
  CreateMinNetLinksGRanges(...)
}

#' @rdname minnet-deprecated
#' @export
MinNetAnnotation <- function(...) {
  .deprecated("MinNetAnnotation", "CreateMinNetAnnotation")
  CreateMinNetAnnotation(...)
}

#' @rdname minnet-deprecated
#' @export
MinNetSimulate <- function(...) {
  .deprecated("MinNetSimulate", "SimulateMinNetData")
  SimulateMinNetData(...)
}

#' @rdname minnet-deprecated
#' @export
MinNetAddEmbedding <- function(...) {
  .deprecated("MinNetAddEmbedding", "AddMinNetEmbedding")
  AddMinNetEmbedding(...)
}

#' @rdname minnet-deprecated
#' @export
MinNetAddPredictions <- function(...) {
  .deprecated("MinNetAddPredictions", "AddMinNetPredictions")
  AddMinNetPredictions(...)
}

#' @rdname minnet-deprecated
#' @export
MinNetDimReduc <- function(...) {
  .deprecated("MinNetDimReduc", "CreateMinNetDimReduc")
  CreateMinNetDimReduc(...)
}

#' @rdname minnet-deprecated
#' @export
MinNetAnnDataPieces <- function(...) {
  .deprecated("MinNetAnnDataPieces", "CreateMinNetAnnDataPieces")
  CreateMinNetAnnDataPieces(...)
}

#' @rdname minnet-deprecated
#' @export
minnet_python <- function(path = NULL) {
  if (is.null(path)) {
    .deprecated("minnet_python", "GetMinNetPython")
    return(GetMinNetPython())
  }
  .deprecated("minnet_python", "SetMinNetPython")
  SetMinNetPython(path)
}

#' @rdname minnet-deprecated
#' @export
minnet_available <- function() {
  .deprecated("minnet_available", "IsMinNetAvailable")
  IsMinNetAvailable()
}
