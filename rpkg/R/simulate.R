# Simulated multiome and CITE-seq data as Seurat objects (through the core's simulators).

.seurat_from <- function(assays, meta, cells) {
  first <- names(assays)[1]
  obj <- SeuratObject::CreateSeuratObject(counts = assays[[first]][, cells, drop = FALSE],
                                          assay = first,
                                          meta.data = meta[cells, , drop = FALSE])
  for (a in names(assays)[-1]) {
    obj[[a]] <- SeuratObject::CreateAssayObject(counts = assays[[a]][, cells, drop = FALSE])
  }
  obj
}

#' Simulate a multiome or CITE-seq data set as Seurat objects
#'
#' Runs the core's seeded simulators (`minnet.datasets.simulate_multiome`: cell types in
#' lineages, batches, RNA and ATAC counts with true peak-gene links; or
#' `minnet.datasets.simulate_citeseq`: RNA and surface proteins), with their defaults (a
#' test compares them) and their checks. For ATAC, gene activity is computed from the peaks
#' (`minnet.pp.gene_activity`, as Signac's `GeneActivity`). The cells are split into a
#' paired training set (batch `batch0`, or a random half with one batch) and, from the
#' remaining cells, an RNA-only and an ATAC-only (or ADT-only) object with no cells in
#' common -- the situation MinNet is made for.
#'
#' @param n.cells Number of cells in total. At least 20 here (the core takes 1): the split
#'   into three objects needs a few cells in each.
#' @param n.cell.types Number of cell types (`T0`, `T1`, ...).
#' @param n.batches Number of batches (`batch0`, ...).
#' @param n.genes Number of genes.
#' @param n.peaks.per.gene Peaks placed around each gene (one promoter peak + distal ones;
#'   ATAC only).
#' @param batch.effect Strength of batch effects (0: none; or `"mild"`, `"strong"`).
#' @param n.background.peaks Extra peaks unrelated to any gene (ATAC only).
#' @param seed Random seed; the same seed gives the same data.
#' @param modality `"atac"` (multiome: RNA + ATAC) or `"adt"` (CITE-seq: RNA + proteins).
#' @param n.proteins Number of proteins (ADT only), named `ADT-<gene>` (Seurat turns the
#'   core's `_` into `-`).
#'
#' @return For `"atac"`, a list with Seurat objects `paired` (assays `RNA`, `peaks`,
#'   `ACTIVITY`), `rna` (`RNA` only), `atac` (`peaks` and `ACTIVITY`) and `multiome` (all
#'   cells, all assays), each with metadata `celltype` (the core's `cell_type`), `batch` and
#'   `lineage` (the truth) and the command logged as `SimulateMinNetData`; `annotation`, the
#'   gene annotation data.frame (`gene_name, gene_id, chrom, tss, strand, end`); and `links`,
#'   the true peak-gene links. For `"adt"`, Seurat objects `paired` (`RNA`, `ADT`), `rna`,
#'   `adt` and `citeseq` (all cells).
#' @export
#' @examples
#' \dontrun{
#' sim <- SimulateMinNetData(n.cells = 1000)
#' sim$paired
#' cite <- SimulateMinNetData(n.cells = 1000, modality = "adt")
#' cite$paired
#' }
SimulateMinNetData <- function(n.cells = 2000, n.cell.types = 8, n.batches = 2,
                               n.genes = 1000, n.peaks.per.gene = 4, batch.effect = 1,
                               n.background.peaks = 1000, seed = 0,
                               modality = c("atac", "adt"), n.proteins = 50) {
  .check_count(n.cells, "n.cells", min = 20)
  if (missing(modality)) modality <- modality[1]
  modality <- .check_modality(modality, c("atac", "adt"))   # R branches on it

  # The other values are checked by the core.
  .core()
  args <- list(n_cells = .py_num(n.cells), n_cell_types = .py_num(n.cell.types),
               n_batches = .py_num(n.batches), n_genes = .py_num(n.genes),
               batch_effect = batch.effect, seed = .py_num(seed))
  if (modality == "adt") {
    args$n_proteins <- .py_num(n.proteins)
  } else {
    args$n_peaks_per_gene <- .py_num(n.peaks.per.gene)
    args$n_background_peaks <- .py_num(n.background.peaks)
  }
  res <- .py_call(do.call(.bridge()$simulate, c(list(modality), args)), "SimulateMinNetData",
                  .py_names(c("n.cells", "n.cell.types", "n.batches", "n.genes",
                              "n.peaks.per.gene", "batch.effect", "n.background.peaks",
                              "n.proteins")))
  if (modality == "adt") {
    adt <- .dgc_from_pieces(res$adt)
    # Seurat's feature names cannot hold '_': rename as CreateAssayObject would, silently
    rownames(adt) <- gsub("_", "-", rownames(adt), fixed = TRUE)
    assays <- list(RNA = .dgc_from_pieces(res$rna), ADT = adt)
  } else {
    assays <- list(RNA = .dgc_from_pieces(res$rna), peaks = .dgc_from_pieces(res$peaks),
                   ACTIVITY = .dgc_from_pieces(res$activity))
  }
  cells <- colnames(assays$RNA)
  obs <- .frame_from_columns(res$obs)
  meta <- data.frame(celltype = obs$cell_type, batch = obs$batch, lineage = obs$lineage,
                     row.names = cells, stringsAsFactors = FALSE)

  # A seeded split that leaves the caller's random number stream alone.
  if (exists(".Random.seed", envir = globalenv(), inherits = FALSE)) {
    old <- get(".Random.seed", envir = globalenv(), inherits = FALSE)
    on.exit(assign(".Random.seed", old, envir = globalenv()), add = TRUE)
  } else {
    on.exit(rm(".Random.seed", envir = globalenv()), add = TRUE)
  }
  set.seed(seed)
  paired_cells <- if (n.batches >= 2) cells[meta$batch == "batch0"] else
    sample(cells, length(cells) %/% 2)
  rest <- setdiff(cells, paired_cells)
  rna_cells <- sort(sample(rest, length(rest) %/% 2))
  other_cells <- setdiff(rest, rna_cells)

  command <- SeuratObject::LogSeuratCommand(
    SeuratObject::CreateSeuratObject(counts = assays$RNA[, 1:2]), return.command = TRUE)
  make <- function(names, cells, assay) {
    .store_command(.seurat_from(assays[names], meta, cells), command, "SimulateMinNetData",
                   assay)
  }
  if (modality == "adt") {
    return(list(paired = make(c("RNA", "ADT"), paired_cells, "RNA"),
                rna = make("RNA", rna_cells, "RNA"),
                adt = make("ADT", other_cells, "ADT"),
                citeseq = make(c("RNA", "ADT"), cells, "RNA")))
  }
  annotation <- .frame_from_columns(res$annotation)
  for (col in intersect(c("tss", "end"), colnames(annotation))) {
    annotation[[col]] <- as.integer(annotation[[col]])
  }
  list(paired = make(c("RNA", "peaks", "ACTIVITY"), paired_cells, "RNA"),
       rna = make("RNA", rna_cells, "RNA"),
       atac = make(c("peaks", "ACTIVITY"), other_cells, "peaks"),
       multiome = make(c("RNA", "peaks", "ACTIVITY"), cells, "RNA"),
       annotation = annotation, links = .frame_from_columns(res$links))
}
