#' minnet: Seurat interface to MinNet
#'
#' Train MinNet on paired RNA + ATAC/ADT Seurat objects ([TrainMinNet()]), co-embed paired
#' or unpaired cells ([RunMinNet()]), transfer labels ([MinNetTransferLabels()]) and link
#' peaks to genes ([MinNetLinkPeaks()]). Computations run in MinNet's Python core through
#' reticulate; see [minnet_python()] for how the interpreter is found. Sparse matrices cross
#' to Python as the CSR vectors of [MinNetAnnDataPieces()].
#'
#' @keywords internal
#' @importClassesFrom Matrix dgCMatrix
"_PACKAGE"
