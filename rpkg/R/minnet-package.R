#' minnet: Seurat interface to MinNet
#'
#' Train MinNet on paired RNA + ATAC/ADT Seurat objects ([TrainMinNet()]), co-embed paired
#' or unpaired cells ([RunMinNet()]), transfer labels ([TransferMinNetLabels()]) and link
#' peaks to genes ([LinkMinNetPeaks()]). Computations run in MinNet's Python core through
#' reticulate; see [GetMinNetPython()] for how the interpreter is found. Sparse matrices
#' cross to Python as the CSR vectors of [CreateMinNetAnnDataPieces()].
#'
#' Function names follow Seurat's verb-noun style (`RunUMAP`, `TransferData`,
#' `AddMetaData`): a verb, then `MinNet`, then what it acts on. The names of earlier releases
#' still work and say what replaced them ([minnet-deprecated]). The defaults are the Python
#' core's (a test compares every mirrored argument); R checks Seurat objects (assays, slots,
#' reductions, metadata columns, cells) and the core checks the values it computes with,
#' its messages naming the R argument.
#'
#' @keywords internal
#' @importClassesFrom Matrix dgCMatrix
"_PACKAGE"
