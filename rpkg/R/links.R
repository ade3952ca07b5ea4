# Gene annotation, peak-gene links and where they are stored.

.link_columns <- c("gene", "peak", "score", "zscore", "pvalue", "qvalue", "distance")

#' Convert a gene annotation to MinNet's table
#'
#' MinNet's core wants one row per gene with `gene_name`, `chrom`, `tss` (1-based) and
#' `strand` (optional `end`, the other end of the gene body). A data.frame with these
#' columns is checked and passed on; a `GRanges` such as Signac's `Annotation(object)` (one
#' row per exon/CDS/UTR, gene names in the `gene_name` metadata column) is collapsed to one
#' row per gene spanning all its ranges (on the chromosome where the name first appears),
#' with `chrom = seqnames`, `tss = start` on `+` (and `*`) strands and `end` on `-` strands.
#'
#' @param annotation A data.frame (`gene_name, chrom, tss, strand`, optional `end`,
#'   `gene_id`) or a `GRanges` with a `gene_name` metadata column.
#'
#' @return A data.frame with columns `gene_name`, `chrom`, `tss` (integer), `strand`
#'   (`"+"`/`"-"`), `end` (integer, when known) and `gene_id` (when present).
#' @export
#' @examples
#' MinNetAnnotation(data.frame(gene_name = c("A", "B"), chrom = "chr1",
#'                             tss = c(1000, 5000), strand = c("+", "-")))
MinNetAnnotation <- function(annotation) {
  if (methods::is(annotation, "GRanges")) {
    return(.annotation_from_granges(annotation))
  }
  if (!is.data.frame(annotation)) {
    .stopf("`annotation` must be a data.frame (gene_name, chrom, tss, strand) or a GRanges (e.g. Signac's Annotation()), got class '%s'.",
           paste(class(annotation), collapse = "/"))
  }
  need <- c("gene_name", "chrom", "tss", "strand")
  miss <- setdiff(need, colnames(annotation))
  if (length(miss)) {
    .stopf("`annotation` lacks column(s) %s; it has %s. Required: gene_name, chrom, tss, strand (optional: end, gene_id).",
           paste(miss, collapse = ", "), paste(colnames(annotation), collapse = ", "))
  }
  strand <- trimws(as.character(annotation$strand))
  strand[strand %in% c("1", "+1")] <- "+"
  strand[strand == "-1"] <- "-"
  bad <- !strand %in% c("+", "-")
  if (any(bad)) {
    .stopf("`annotation$strand` has %d value(s) other than '+'/'-', e.g. '%s'.", sum(bad),
           strand[bad][1])
  }
  as_pos <- function(x, what) {
    v <- suppressWarnings(as.numeric(as.character(x)))
    if (anyNA(v) || any(v < 0) || any(v != round(v))) {
      .stopf("`annotation$%s` must hold non-negative whole numbers (1-based positions).", what)
    }
    as.integer(v)
  }
  out <- data.frame(gene_name = as.character(annotation$gene_name),
                    chrom = as.character(annotation$chrom),
                    tss = as_pos(annotation$tss, "tss"),
                    strand = strand, stringsAsFactors = FALSE)
  if ("end" %in% colnames(annotation)) out$end <- as_pos(annotation$end, "end")
  if ("gene_id" %in% colnames(annotation)) out$gene_id <- as.character(annotation$gene_id)
  if (anyNA(out$gene_name) || anyNA(out$chrom)) {
    .stopf("`annotation` has missing gene_name or chrom values.")
  }
  out
}

.annotation_from_granges <- function(gr) {
  if (!requireNamespace("BiocGenerics", quietly = TRUE)) {
    .stopf("converting a GRanges annotation needs the BiocGenerics package.")
  }
  df <- BiocGenerics::as.data.frame(gr)
  if (!"gene_name" %in% colnames(df)) {
    .stopf("the GRanges annotation has no 'gene_name' metadata column (it has: %s).",
           paste(setdiff(colnames(df), c("seqnames", "start", "end", "width", "strand")),
                 collapse = ", "))
  }
  df <- df[!is.na(df$gene_name) & nzchar(as.character(df$gene_name)), , drop = FALSE]
  if (nrow(df) == 0L) {
    .stopf("the GRanges annotation has no named genes.")
  }
  gene <- as.character(df$gene_name)
  genes <- unique(gene)
  first <- match(genes, gene)
  # A name on several chromosomes (e.g. X/Y pseudo-autosomal genes): keep its first locus.
  same <- as.character(df$seqnames) == as.character(df$seqnames)[first][match(gene, genes)]
  df <- df[same, , drop = FALSE]
  gene <- gene[same]
  first <- match(genes, gene)
  start <- as.integer(tapply(df$start, factor(gene, levels = genes), min))
  end <- as.integer(tapply(df$end, factor(gene, levels = genes), max))
  strand <- as.character(df$strand)[first]
  strand[!strand %in% c("+", "-")] <- "+"
  minus <- strand == "-"
  out <- data.frame(gene_name = genes, chrom = as.character(df$seqnames)[first],
                    tss = ifelse(minus, end, start), strand = strand,
                    end = ifelse(minus, start, end), stringsAsFactors = FALSE)
  if ("gene_id" %in% colnames(df)) out$gene_id <- as.character(df$gene_id)[first]
  out
}

# chrom/start/end of peak names such as chr1-100-200 (also chr1:100-200, chr1_100_200).
.parse_peaks <- function(peaks) {
  m <- regmatches(peaks, regexec("^(.+)[-:_]([0-9]+)[-_]([0-9]+)$", peaks))
  ok <- lengths(m) == 4L
  if (!all(ok)) {
    .stopf("%d peak name(s) do not look like 'chr-start-end', e.g. '%s'.", sum(!ok),
           peaks[!ok][1])
  }
  data.frame(chrom = vapply(m, `[`, "", 2L),
             start = as.numeric(vapply(m, `[`, "", 3L)),
             end = as.numeric(vapply(m, `[`, "", 4L)), stringsAsFactors = FALSE)
}

.check_links <- function(links) {
  if (!is.data.frame(links)) {
    .stopf("`links` must be a data.frame with columns %s.", paste(.link_columns, collapse = ", "))
  }
  miss <- setdiff(.link_columns, colnames(links))
  if (length(miss)) {
    .stopf("`links` lacks column(s) %s (needs %s).", paste(miss, collapse = ", "),
           paste(.link_columns, collapse = ", "))
  }
  links <- as.data.frame(links, stringsAsFactors = FALSE)
  extra <- setdiff(colnames(links), .link_columns)
  links <- links[, c(.link_columns, extra), drop = FALSE]
  links$gene <- as.character(links$gene)
  links$peak <- as.character(links$peak)
  for (col in c("score", "zscore", "pvalue", "qvalue", "distance")) {
    links[[col]] <- as.numeric(links[[col]])
  }
  rownames(links) <- NULL
  links
}

#' Peak-gene links as a GRanges
#'
#' Each link becomes a range from the gene's TSS to the peak's midpoint (Signac's `Links`
#' convention), with metadata columns `score`, `gene`, `peak`, `zscore`, `pvalue`,
#' `qvalue` and `distance` (peak midpoint minus TSS).
#'
#' @param links A data.frame with columns `gene, peak, score, zscore, pvalue, qvalue,
#'   distance` (from [MinNetLinkPeaks()] or Python's `link_peaks`).
#'
#' @return A `GRanges` (needs the GenomicRanges package).
#' @export
#' @examples
#' if (requireNamespace("GenomicRanges", quietly = TRUE)) {
#'   MinNetLinksGRanges(data.frame(gene = "A", peak = "chr1-900-1100", score = 0.5,
#'                                 zscore = 3, pvalue = 0.001, qvalue = 0.01, distance = 0))
#' }
MinNetLinksGRanges <- function(links) {
  if (!requireNamespace("GenomicRanges", quietly = TRUE) ||
      !requireNamespace("IRanges", quietly = TRUE)) {
    .stopf("MinNetLinksGRanges() needs the GenomicRanges and IRanges packages.")
  }
  links <- .check_links(links)
  pk <- .parse_peaks(links$peak)
  mid <- (pk$start + pk$end) %/% 2
  tss <- mid - links$distance
  GenomicRanges::GRanges(
    seqnames = pk$chrom,
    ranges = IRanges::IRanges(start = pmin(mid, tss), end = pmax(mid, tss)),
    score = links$score, gene = links$gene, peak = links$peak, zscore = links$zscore,
    pvalue = links$pvalue, qvalue = links$qvalue, distance = links$distance
  )
}

.store_links <- function(object, links, peak.assay) {
  links <- .check_links(links)
  methods::slot(object, "misc")[["minnet_links"]] <- links
  if (requireNamespace("GenomicRanges", quietly = TRUE)) {
    gr <- MinNetLinksGRanges(links)
    methods::slot(object, "misc")[["minnet_links_granges"]] <- gr
    a <- object[[peak.assay]]
    if (.is_chromatin_assay(a)) {
      a <- getExportedValue("Signac", "Links<-")(a, value = gr)
      object[[peak.assay]] <- a
    }
  }
  object
}

#' Store peak-gene links in a Seurat object
#'
#' The links data.frame goes to `Misc(object, "minnet_links")` and, when GenomicRanges is
#' installed, its `GRanges` form ([MinNetLinksGRanges()]) to
#' `Misc(object, "minnet_links_granges")`; when `peak.assay` is a Signac `ChromatinAssay`
#' the `GRanges` is also stored with `Links()`, so Signac's `CoveragePlot` shows it.
#' [MinNetLinkPeaks()] does this for you; use this function for links computed in Python.
#'
#' @param object A Seurat object.
#' @param links A data.frame with columns `gene, peak, score, zscore, pvalue, qvalue,
#'   distance`.
#' @param peak.assay The peak assay the links refer to.
#'
#' @return `object` with the links stored (and the command logged).
#' @export
#' @examples
#' m <- Matrix::rsparsematrix(3, 4, 0.5, rand.x = function(n) rpois(n, 3) + 1)
#' dimnames(m) <- list(c("chr1-100-600", "chr1-900-1400", "chr2-50-550"), paste0("c", 1:4))
#' obj <- SeuratObject::CreateSeuratObject(counts = m, assay = "peaks")
#' links <- data.frame(gene = "A", peak = "chr1-900-1400", score = 0.5, zscore = 3,
#'                     pvalue = 0.001, qvalue = 0.01, distance = 150)
#' obj <- MinNetStoreLinks(obj, links)
#' MinNetLinks(obj)
MinNetStoreLinks <- function(object, links, peak.assay = "peaks") {
  .check_seurat(object, "object")
  .check_assay(object, peak.assay, "peak.assay")
  object <- .store_links(object, links, peak.assay)
  links <- sprintf("<%d links>", NROW(links))
  command <- SeuratObject::LogSeuratCommand(object, return.command = TRUE)
  .store_command(object, command, peak.assay)
}

#' Get the peak-gene links stored by MinNet
#'
#' @param object A Seurat object from [MinNetLinkPeaks()] or [MinNetStoreLinks()].
#' @param granges Return the `GRanges` form instead of the data.frame.
#'
#' @return The links data.frame (`gene, peak, score, zscore, pvalue, qvalue, distance`) or
#'   `GRanges`.
#' @export
#' @examples
#' \dontrun{
#' head(MinNetLinks(atac))
#' }
MinNetLinks <- function(object, granges = FALSE) {
  .check_seurat(object, "object")
  key <- if (isTRUE(granges)) "minnet_links_granges" else "minnet_links"
  out <- methods::slot(object, "misc")[[key]]
  if (is.null(out)) {
    .stopf("the object holds no MinNet links%s; run MinNetLinkPeaks() first.",
           if (isTRUE(granges)) " as GRanges (is GenomicRanges installed?)" else "")
  }
  out
}

#' Link peaks to genes through the MinNet co-embedding
#'
#' Works on paired or unpaired data: RNA cells and ATAC cells that are close in the
#' co-embedding are pooled. In the core, each object's counts are first smoothed over its
#' nearest neighbours in the co-embedding (`minnet.tl.smooth`), RNA and ATAC cells are then
#' clustered together into mini-bulks within each group (`minnet.tl.minibulk`), and every
#' gene is correlated with the peaks within `distance` of its TSS across the mini-bulks,
#' with z-scores against background peaks on other chromosomes matched on accessibility,
#' p-values and Benjamini-Hochberg q-values (`minnet.tl.link_peaks`; the columns of
#' Signac's `LinkPeaks` plus `qvalue` and `distance`). These are the steps of the core's
#' `minnet.tl.peak_gene_links`.
#'
#' The co-embedding is either read from reduction `reduction` of both objects (added by
#' [RunMinNet()]) or, when `model` is given, computed with it on the fly (RNA from
#' `expression.assay`; ATAC from `atac.assay`, by default the peaks when the model was trained
#' with an annotation, else `"ACTIVITY"`) without being stored.
#'
#' @param rna Seurat object with the RNA counts (and the co-embedding unless `model` is given).
#' @param atac Seurat object with the peak counts (may be `rna` itself for paired data).
#' @param model Optional `MinNetModel` (from [TrainMinNet()] or [LoadMinNet()]) to compute the
#'   co-embedding with; a string here is taken as `reduction`.
#' @param reduction The co-embedding reduction in both objects (when `model` is `NULL`).
#' @param peak.assay Peak assay of `atac` (feature names `chr-start-end`; a Signac
#'   `ChromatinAssay`'s ranges are used when Signac is installed).
#' @param expression.assay RNA assay of `rna`.
#' @param annotation Gene annotation: data.frame (`gene_name, chrom, tss, strand`) or
#'   `GRanges` such as Signac's `Annotation()` (see [MinNetAnnotation()]).
#' @param distance Largest distance (bp) between a peak's midpoint and the TSS.
#' @param n.bulks Number of mini-bulks requested in total.
#' @param group.by `NULL` (all cells one group), one metadata column present in both objects,
#'   or two (`c(rna.column, atac.column)`, e.g. `c("celltype", "predicted.celltype")`):
#'   mini-bulks never mix groups; cells with `NA` are left out.
#' @param genes Only link these genes (default: all annotated genes).
#' @param method `"spearman"` or `"pearson"`.
#' @param n.background Background peaks per gene and accessibility bin.
#' @param smooth Smooth counts over co-embedding neighbours before pooling.
#' @param n.neighbors Neighbours used for smoothing.
#' @param percentile Neighbours farther than this percentile of all neighbour distances are
#'   not used for smoothing.
#' @param seed Random seed (clustering and background sampling).
#' @param atac.assay With `model`: the assay of `atac` to embed (peaks or gene activity).
#' @param return.links `FALSE` (default): return `atac` with the links stored; `TRUE`: return
#'   the links data.frame itself.
#' @param verbose Print progress messages.
#'
#' @return By default `atac`, with the links stored as by [MinNetStoreLinks()]: the
#'   data.frame (`gene, peak, score, zscore, pvalue, qvalue, distance`) in
#'   `Misc(atac, "minnet_links")`, its `GRanges` form (when GenomicRanges is installed) in
#'   `Misc(atac, "minnet_links_granges")` and, when `peak.assay` is a Signac
#'   `ChromatinAssay`, in `Links(atac[[peak.assay]])`; get them with [MinNetLinks()]. With
#'   `return.links = TRUE`, the data.frame.
#' @export
#' @examples
#' \dontrun{
#' atac <- MinNetLinkPeaks(rna, atac, annotation = sim$annotation,
#'                         group.by = c("celltype", "predicted.celltype"))
#' head(MinNetLinks(atac))
#' # or straight from a model, without stored reductions, as a data.frame
#' links <- MinNetLinkPeaks(rna, atac, model, annotation = sim$annotation,
#'                          return.links = TRUE)
#' }
MinNetLinkPeaks <- function(rna, atac = rna, model = NULL, reduction = "minnet",
                            peak.assay = "peaks", expression.assay = "RNA", annotation,
                            distance = 150000, n.bulks = 100, group.by = NULL, genes = NULL,
                            method = c("spearman", "pearson"), n.background = 200,
                            smooth = TRUE, n.neighbors = 5, percentile = 95, seed = 0,
                            atac.assay = NULL, return.links = FALSE, verbose = TRUE) {
  .check_seurat(rna, "rna")
  .check_seurat(atac, "atac")
  if (is.character(model)) {
    reduction <- model
    model <- NULL
  }
  .check_assay(rna, expression.assay, "expression.assay", "rna")
  .check_assay(atac, peak.assay, "peak.assay", "atac")
  if (is.null(model)) {
    .check_reduction(rna, reduction, what = "rna")
    .check_reduction(atac, reduction, what = "atac")
  } else {
    .check_model(model)
    if (!"atac" %in% model$modalities) {
      .stopf("`model` was trained on %s; linking peaks needs an RNA + ATAC model.",
             paste(model$modalities, collapse = " + "))
    }
    if (is.null(atac.assay)) {
      atac.assay <- if (isTRUE(model$has.annotation)) peak.assay else "ACTIVITY"
    }
    .check_assay(atac, atac.assay, "atac.assay", "atac")
  }
  if (missing(annotation) || is.null(annotation)) {
    .stopf("`annotation` is required: a data.frame (gene_name, chrom, tss, strand) or a GRanges such as Signac's Annotation().")
  }
  if (missing(method)) method <- method[1]
  .check_string(method, "method")
  if (!method %in% c("spearman", "pearson")) {
    .stopf("`method` must be 'spearman' or 'pearson', got '%s'.", method)
  }
  .check_count(distance, "distance", min = 0)
  .check_count(n.bulks, "n.bulks", min = 3)
  .check_count(n.background, "n.background", min = 2)
  .check_count(n.neighbors, "n.neighbors")
  .check_count(seed, "seed", min = 0)
  if (!is.numeric(percentile) || length(percentile) != 1L || is.na(percentile) ||
      !(percentile > 0 && percentile <= 100)) {
    .stopf("`percentile` must be a number in (0, 100].")
  }
  if (!is.null(group.by)) {
    if (!is.character(group.by) || !length(group.by) %in% 1:2) {
      .stopf("`group.by` must be NULL, one metadata column or two (rna column, atac column).")
    }
    by <- rep(group.by, length.out = 2)
    .check_meta(rna, by[1], "group.by", "rna", allow.na = TRUE)
    .check_meta(atac, by[2], "group.by", "atac", allow.na = TRUE)
  }
  ann <- MinNetAnnotation(annotation)
  rp <- MinNetAnnDataPieces(rna, expression.assay, "counts")
  ap <- MinNetAnnDataPieces(atac, peak.assay, "counts")
  if (!.looks_like_peaks(ap$var_names)) {
    .stopf("assay '%s' does not hold peaks named 'chr-start-end' (e.g. '%s').", peak.assay,
           ap$var_names[1])
  }
  .parse_peaks(ap$var_names)
  if (!any(rp$var_names %in% ann$gene_name)) {
    .stopf("none of the genes of assay '%s' are in the annotation (e.g. '%s' vs '%s').",
           expression.assay, rp$var_names[1], ann$gene_name[1])
  }
  if (is.null(model)) {
    emb_r <- SeuratObject::Embeddings(rna[[reduction]])
    emb_a <- SeuratObject::Embeddings(atac[[reduction]])
    if (ncol(emb_r) != ncol(emb_a)) {
      .stopf("the '%s' embeddings of rna and atac differ in width (%d vs %d); embed both with the same model.",
             reduction, ncol(emb_r), ncol(emb_a))
    }
    for (p in list(list(rp, emb_r, "rna"), list(ap, emb_a, "atac"))) {
      if (!all(p[[1]]$obs_names %in% rownames(p[[2]]))) {
        .stopf("reduction '%s' of %s does not cover all of its cells; rerun RunMinNet().",
               reduction, p[[3]])
      }
    }
  } else {
    emb_r <- .embed_matrix(rna, model, expression.assay, "rna", "counts", NULL, verbose)
    emb_a <- .embed_matrix(atac, model, atac.assay, "atac", "counts", NULL, verbose)
  }

  .core()
  cols_r <- if (is.null(group.by)) NULL else by[1]
  cols_a <- if (is.null(group.by)) NULL else by[2]
  if (verbose) {
    message(sprintf("MinNetLinkPeaks: %d RNA cells, %d ATAC cells, %d mini-bulks requested.",
                    length(rp$obs_names), length(ap$obs_names), as.integer(n.bulks)))
  }
  ad_r <- .pieces_to_adata(rp, cols_r, list(X_minnet = emb_r))
  ad_a <- .pieces_to_adata(ap, cols_a, list(X_minnet = emb_a))
  res <- .py_call(.bridge()$link_pipeline(
    ad_r, ad_a, .py_columns(ann),
    groupby = if (is.null(group.by)) NULL else as.list(by),
    n_bulks = as.integer(n.bulks), distance = as.integer(distance), method = method,
    genes = if (is.null(genes)) NULL else reticulate::np_array(as.character(genes)),
    n_background = as.integer(n.background), smooth = isTRUE(smooth),
    n_neighbors = as.integer(n.neighbors), percentile = as.numeric(percentile),
    seed = as.integer(seed)
  ), "MinNetLinkPeaks")
  links <- .frame_from_columns(res$links)
  if (nrow(links) == 0L) {
    links <- data.frame(gene = character(), peak = character(), score = numeric(),
                        zscore = numeric(), pvalue = numeric(), qvalue = numeric(),
                        distance = numeric())
  }
  links <- .check_links(links)
  if (verbose) {
    message(sprintf("MinNetLinkPeaks: %d gene-peak pairs tested over %d mini-bulks; %d with q < 0.05.",
                    nrow(links), as.integer(res$n_bulks), sum(links$qvalue < 0.05)))
  }
  if (isTRUE(return.links)) {
    return(links)
  }
  atac <- .store_links(atac, links, peak.assay)
  # Keep the logged parameters small: describe large arguments instead of storing them.
  annotation <- sprintf("<annotation of %d genes>", nrow(ann))
  genes <- if (is.null(genes)) NULL else sprintf("<%d genes>", length(genes))
  if (!is.null(model)) {
    model <- sprintf("<MinNetModel %s>", paste(model$modalities, collapse = "+"))
    reduction <- NULL
  }
  command <- SeuratObject::LogSeuratCommand(atac, return.command = TRUE)
  command@assay.used <- peak.assay
  .store_command(atac, command, peak.assay)
}
