# Peak-gene links: computed through the co-embedding, stored in and read from Seurat objects.

# The columns of a links table in R. The core (minnet.tl.link_peaks) returns the same columns
# (a test compares them) in the order gene, peak, distance, score, ...; R keeps score right
# after gene and peak, the order of Signac's LinkPeaks and of this package's earlier releases.
# `correlation` (the core's since 0.2) is optional: tables of earlier releases lack it.
.link_columns <- c("gene", "peak", "score", "zscore", "pvalue", "qvalue", "distance")
.link_optional_columns <- "correlation"

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
  numeric_cols <- c("score", "zscore", "pvalue", "qvalue", "distance", .link_optional_columns)
  for (col in intersect(numeric_cols, colnames(links))) {
    links[[col]] <- as.numeric(links[[col]])
  }
  rownames(links) <- NULL
  links
}

#' Peak-gene links as a GRanges
#'
#' Each link becomes a range from the gene's TSS to the peak's midpoint (Signac's `Links`
#' convention), with metadata columns `score`, `gene`, `peak`, `zscore`, `pvalue`,
#' `qvalue`, `distance` (peak midpoint minus TSS) and, when the table has it, `correlation`.
#'
#' @param links A data.frame with columns `gene, peak, score, zscore, pvalue, qvalue,
#'   distance` (from [LinkMinNetPeaks()] or Python's `link_peaks`).
#'
#' @return A `GRanges` (needs the GenomicRanges package).
#' @export
#' @examples
#' if (requireNamespace("GenomicRanges", quietly = TRUE)) {
#'   CreateMinNetLinksGRanges(data.frame(gene = "A", peak = "chr1-900-1100", score = 0.5,
#'                                       zscore = 3, pvalue = 0.001, qvalue = 0.01, distance = 0))
#' }
CreateMinNetLinksGRanges <- function(links) {
  if (!requireNamespace("GenomicRanges", quietly = TRUE) ||
      !requireNamespace("IRanges", quietly = TRUE)) {
    .stopf("CreateMinNetLinksGRanges() needs the GenomicRanges and IRanges packages.")
  }
  links <- .check_links(links)
  pk <- .parse_peaks(links$peak)
  mid <- (pk$start + pk$end) %/% 2
  tss <- mid - links$distance
  gr <- GenomicRanges::GRanges(
    seqnames = pk$chrom,
    ranges = IRanges::IRanges(start = pmin(mid, tss), end = pmax(mid, tss)),
    score = links$score, gene = links$gene, peak = links$peak, zscore = links$zscore,
    pvalue = links$pvalue, qvalue = links$qvalue, distance = links$distance
  )
  if (!is.null(links$correlation)) gr$correlation <- links$correlation
  gr
}

# The links kept for Links(): q-value below `qvalue.cutoff`, p-value below `pvalue.cutoff`
# and |score| above `score.cutoff` (Signac's LinkPeaks rule: p < 0.05, |score| > 0.05, q < 1).
.keep_links <- function(links, cut) {
  !is.na(links$qvalue) & links$qvalue < cut[["qvalue.cutoff"]] &
    !is.na(links$pvalue) & links$pvalue < cut[["pvalue.cutoff"]] &
    !is.na(links$score) & abs(links$score) > cut[["score.cutoff"]]
}

.link_cutoffs <- function(pvalue.cutoff, score.cutoff, qvalue.cutoff) {
  for (a in list(list(pvalue.cutoff, "pvalue.cutoff"), list(score.cutoff, "score.cutoff"),
                 list(qvalue.cutoff, "qvalue.cutoff"))) {
    if (!is.numeric(a[[1]]) || length(a[[1]]) != 1L || is.na(a[[1]])) {
      .stopf("`%s` must be one number.", a[[2]])
    }
  }
  c(pvalue.cutoff = pvalue.cutoff, score.cutoff = score.cutoff, qvalue.cutoff = qvalue.cutoff)
}

.significant_links <- function(links, cut) {
  links[.keep_links(links, cut), , drop = FALSE]
}

# A links GRanges with `genome` in its seqinfo; sorted (natural chromosome order, then
# position) unless `sort = FALSE` (then in the table's row order).
.sorted_links_granges <- function(links, genome = NULL, sort = TRUE) {
  gr <- CreateMinNetLinksGRanges(links)
  if (requireNamespace("GenomeInfoDb", quietly = TRUE)) {
    gr <- GenomeInfoDb::sortSeqlevels(gr)
    if (length(genome) == 1L && !is.na(genome) && length(GenomeInfoDb::seqlevels(gr))) {
      GenomeInfoDb::genome(gr) <- genome
    }
  }
  if (sort) BiocGenerics::sort(gr) else gr
}

# The genome of an annotation GRanges (or of a ChromatinAssay's annotation / genome), or NULL.
.genome_of <- function(x) {
  if (is.null(x) || !requireNamespace("GenomeInfoDb", quietly = TRUE)) {
    return(NULL)
  }
  g <- tryCatch(unique(stats::na.omit(unname(GenomeInfoDb::genome(x)))),
                error = function(e) character())
  if (length(g) == 1L) g else NULL
}

.store_links <- function(object, links, peak.assay, cut, genome = NULL) {
  links <- .check_links(links)
  methods::slot(object, "misc")[["minnet_links"]] <- links
  methods::slot(object, "misc")[["minnet_links_cutoffs"]] <- cut
  if (requireNamespace("GenomicRanges", quietly = TRUE)) {
    a <- object[[peak.assay]]
    chromatin <- .is_chromatin_assay(a)
    if (is.null(genome) && chromatin) {
      genome <- .genome_of(a) %||%
        .genome_of(tryCatch(getExportedValue("Signac", "Annotation")(a), error = function(e) NULL))
    }
    # in Misc, row for row the table; in Links(), sorted as Signac's LinkPeaks leaves them
    gr <- .sorted_links_granges(links, genome, sort = FALSE)
    methods::slot(object, "misc")[["minnet_links_granges"]] <- gr
    if (chromatin) {
      sig <- .sorted_links_granges(.significant_links(links, cut), genome)
      a <- getExportedValue("Signac", "Links<-")(a, value = sig)
      object[[peak.assay]] <- a
    }
  }
  object
}

# The default peak assay of `object`: its (first) Signac ChromatinAssay, else the default
# assay when it holds peaks, else an assay named "peaks", else the default assay.
.default_peak_assay <- function(object) {
  assays <- SeuratObject::Assays(object)
  for (a in assays) {
    if (.is_chromatin_assay(object[[a]])) return(a)
  }
  def <- SeuratObject::DefaultAssay(object)
  if (.looks_like_peaks(utils::head(rownames(object[[def]]), 50))) return(def)
  if ("peaks" %in% assays) return("peaks")
  def
}

#' Store peak-gene links in a Seurat object
#'
#' The links data.frame goes to `Misc(object, "minnet_links")` and, when GenomicRanges is
#' installed, its `GRanges` form ([CreateMinNetLinksGRanges()]) to
#' `Misc(object, "minnet_links_granges")`; when `peak.assay` is a Signac `ChromatinAssay`
#' the `GRanges` is also stored with `Links()`, so Signac's `CoveragePlot` shows it.
#' [LinkMinNetPeaks()] does this for you; use this function for links computed in Python.
#'
#' @param object A Seurat object.
#' @param links A data.frame with columns `gene, peak, score, zscore, pvalue, qvalue,
#'   distance` (and `correlation`, the core's since 0.2).
#' @param peak.assay The peak assay the links refer to; by default the object's Signac
#'   `ChromatinAssay` when it has one, else its default assay when that holds peaks, else
#'   `"peaks"`.
#' @param qvalue.cutoff,pvalue.cutoff,score.cutoff `Links()` of a `ChromatinAssay` receives
#'   only the links with `qvalue < qvalue.cutoff`, `pvalue < pvalue.cutoff` and
#'   `abs(score) > score.cutoff`, as a sorted `GRanges`; the full table stays in `Misc()`
#'   ([GetMinNetLinks()]). The defaults keep the links called at q < 0.1 (the significant
#'   links of the default `method = "empirical_bayes"`); Signac's `LinkPeaks` rule is
#'   `qvalue.cutoff = 1, pvalue.cutoff = 0.05, score.cutoff = 0.05`.
#' @param genome Genome name for the `GRanges`' seqinfo (default: the genome of the
#'   `ChromatinAssay` or of its annotation, when set).
#'
#' @return `object` with the links stored (and the command logged as `AddMinNetLinks`).
#' @export
#' @examples
#' m <- Matrix::rsparsematrix(3, 4, 0.5, rand.x = function(n) rpois(n, 3) + 1)
#' dimnames(m) <- list(c("chr1-100-600", "chr1-900-1400", "chr2-50-550"), paste0("c", 1:4))
#' obj <- SeuratObject::CreateSeuratObject(counts = m, assay = "peaks")
#' links <- data.frame(gene = "A", peak = "chr1-900-1400", score = 0.5, zscore = 3,
#'                     pvalue = 0.001, qvalue = 0.01, distance = 150)
#' obj <- AddMinNetLinks(obj, links)
#' GetMinNetLinks(obj)
AddMinNetLinks <- function(object, links, peak.assay = NULL, qvalue.cutoff = 0.1,
                           pvalue.cutoff = 1, score.cutoff = 0, genome = NULL) {
  .check_seurat(object, "object")
  peak.assay <- peak.assay %||% .default_peak_assay(object)
  .check_assay(object, peak.assay, "peak.assay")
  cut <- .link_cutoffs(pvalue.cutoff, score.cutoff, qvalue.cutoff)
  object <- .store_links(object, links, peak.assay, cut, genome)
  links <- sprintf("<%d links>", NROW(links))
  command <- SeuratObject::LogSeuratCommand(object, return.command = TRUE)
  .store_command(object, command, "AddMinNetLinks", peak.assay)
}

#' Get the peak-gene links stored by MinNet
#'
#' @param object A Seurat object from [LinkMinNetPeaks()] or [AddMinNetLinks()].
#' @param granges Return the `GRanges` form (row for row the data.frame) instead of the
#'   data.frame.
#' @param all `TRUE` (default): every tested gene-peak pair; `FALSE`: only those passing the
#'   cutoffs they were stored with (`qvalue.cutoff`, `pvalue.cutoff`, `score.cutoff`), i.e.
#'   what `Links()` of a Signac `ChromatinAssay` holds.
#'
#' @return The links data.frame (`gene, peak, score, zscore, pvalue, qvalue, distance`) or
#'   `GRanges`.
#' @export
#' @examples
#' \dontrun{
#' head(GetMinNetLinks(atac))
#' }
GetMinNetLinks <- function(object, granges = FALSE, all = TRUE) {
  .check_seurat(object, "object")
  key <- if (isTRUE(granges)) "minnet_links_granges" else "minnet_links"
  out <- methods::slot(object, "misc")[[key]]
  if (is.null(out)) {
    .stopf("the object holds no MinNet links%s; run LinkMinNetPeaks() first.",
           if (isTRUE(granges)) " as GRanges (is GenomicRanges installed?)" else "")
  }
  if (!isTRUE(all)) {
    # objects of earlier releases stored Signac's rule without a q-value cutoff
    cut <- c(pvalue.cutoff = 0.05, score.cutoff = 0.05, qvalue.cutoff = Inf)
    stored <- methods::slot(object, "misc")[["minnet_links_cutoffs"]]
    cut[names(stored)] <- stored
    keep <- .keep_links(out, cut)
    if (is.data.frame(out)) {
      out <- out[keep, , drop = FALSE]
      rownames(out) <- NULL
    } else {
      out <- out[keep]
    }
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
#' with z-scores against background peaks on other chromosomes matched on accessibility
#' (`minnet.tl.link_peaks`; the columns of Signac's `LinkPeaks` plus `qvalue`, `distance`
#' and `correlation`). With the default `method = "empirical_bayes"` the `score` of a pair
#' is its posterior probability of being a link given its z-score and its distance to the
#' TSS (a two-groups model whose share of links per distance bin is learnt from the data)
#' and `qvalue` its Bayesian false discovery rate; the paper's statistic is
#' `method = "spearman"` (score = correlation, Benjamini-Hochberg q-values). These are the
#' steps of the core's
#' `minnet.tl.peak_gene_links`, whose defaults these are (a test compares them); the
#' core checks the numbers and choices, with its message naming the R argument.
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
#' @param reduction The co-embedding reduction in both objects (when `model` is `NULL`); the
#'   core's `use_rep = "X_minnet"` under its Seurat name.
#' @param peak.assay Peak assay of `atac` (feature names `chr-start-end`; a Signac
#'   `ChromatinAssay`'s ranges are used when Signac is installed). By default the object's
#'   `ChromatinAssay` when it has one (whatever its name, e.g. Signac's `"ATAC"`), else its
#'   default assay when that holds peaks, else `"peaks"`.
#' @param qvalue.cutoff,pvalue.cutoff,score.cutoff Links stored in `Links()` of a
#'   `ChromatinAssay` (what Signac's `CoveragePlot` and `LinkPlot` draw): `qvalue <
#'   qvalue.cutoff`, `pvalue < pvalue.cutoff` and `abs(score) > score.cutoff`; by default the
#'   links called at q < 0.1. Signac's `LinkPeaks` rule is `qvalue.cutoff = 1, pvalue.cutoff
#'   = 0.05, score.cutoff = 0.05`. Every tested pair stays in `Misc()` ([GetMinNetLinks()]
#'   with `all = TRUE`).
#' @param expression.assay RNA assay of `rna`.
#' @param annotation Gene annotation: data.frame (`gene_name, chrom, tss, strand`) or
#'   `GRanges` such as Signac's `Annotation()` (see [CreateMinNetAnnotation()]).
#' @param distance Largest distance (bp) between a peak's midpoint and the TSS.
#' @param n.bulks Number of mini-bulks requested in total (correlations need at least 3), or
#'   `"auto"`: one per 10 cells of the smaller modality, at most 100.
#' @param group.by Mini-bulks never mix groups: one metadata column, read in both objects
#'   (when `atac` lacks it, its transferred labels `predicted.<group.by>` from
#'   [TransferMinNetLabels()] are used), or two (`c(rna.column, atac.column)`, e.g.
#'   `c("celltype", "predicted.celltype")`), or `NULL` (all cells one group). Cells with `NA`
#'   are left out. The default is the R spelling of the core's `groupby = "cell_type"`, which
#'   falls back to the transferred `cell_type_pred` the same way.
#' @param genes Only link these genes (default: all annotated genes).
#' @param method `"empirical_bayes"` (default: posterior probability of a link from the
#'   robust z-score and the distance to the TSS), `"spearman"` (the paper's), `"pearson"`,
#'   `"robust"` (Spearman against a median / MAD background, one-sided) or `"within"`
#'   (correlation within the groups of the mini-bulks).
#' @param distance.prior With `method = "empirical_bayes"`: let the share of links depend on
#'   the distance to the TSS (default); `FALSE` when the annotation's TSSs are placeholders.
#' @param n.background Background peaks per gene and accessibility bin.
#' @param smooth Smooth counts over co-embedding neighbours before pooling.
#' @param n.neighbors Neighbours used for smoothing.
#' @param percentile Neighbours farther than this percentile of all neighbour distances are
#'   not used for smoothing.
#' @param seed Random seed (clustering and background sampling).
#' @param atac.assay With `model`: the assay of `atac` to embed (peaks or gene activity).
#' @param return.links `FALSE` (default): return `atac` with the links stored; `TRUE`: return
#'   the links data.frame itself.
#' @param verbose Print progress messages (the core's `progress`).
#' @param check.model Refuse (`TRUE`) or only warn about (`FALSE`) reductions of `rna` and
#'   `atac` that different models made (as in [TransferMinNetLabels()]).
#'
#' @return By default `atac`, with the links stored as by [AddMinNetLinks()] (and the command
#'   logged as `LinkMinNetPeaks`): the data.frame (`gene, peak, score, zscore, pvalue,
#'   qvalue, distance, correlation`) in `Misc(atac, "minnet_links")`, its `GRanges` form (when
#'   GenomicRanges is installed) in `Misc(atac, "minnet_links_granges")` and, when
#'   `peak.assay` is a Signac `ChromatinAssay`, in `Links(atac[[peak.assay]])`; get them with
#'   [GetMinNetLinks()]. With `return.links = TRUE`, the data.frame. The columns are the
#'   core's, with `distance` last (Signac's order).
#' @export
#' @examples
#' \dontrun{
#' atac <- LinkMinNetPeaks(rna, atac, annotation = sim$annotation,
#'                         group.by = c("celltype", "predicted.celltype"))
#' head(GetMinNetLinks(atac))
#' # or straight from a model, without stored reductions, as a data.frame
#' links <- LinkMinNetPeaks(rna, atac, model, annotation = sim$annotation,
#'                          return.links = TRUE)
#' }
LinkMinNetPeaks <- function(rna, atac = rna, model = NULL, reduction = "minnet",
                            peak.assay = NULL, expression.assay = "RNA", annotation,
                            distance = 150000, n.bulks = "auto", group.by = "celltype",
                            genes = NULL,
                            method = c("empirical_bayes", "spearman", "pearson", "robust",
                                       "within"),
                            n.background = 200, smooth = TRUE, n.neighbors = 5,
                            percentile = 95, seed = 0, atac.assay = NULL,
                            return.links = FALSE, verbose = TRUE, check.model = TRUE,
                            qvalue.cutoff = 0.1, pvalue.cutoff = 1, score.cutoff = 0,
                            distance.prior = TRUE) {
  .check_seurat(rna, "rna")
  .check_seurat(atac, "atac")
  peak.assay <- peak.assay %||% .default_peak_assay(atac)
  if (is.character(model)) {
    reduction <- model
    model <- NULL
  }
  .check_assay(rna, expression.assay, "expression.assay", "rna")
  .check_assay(atac, peak.assay, "peak.assay", "atac")
  if (is.null(model)) {
    .check_reduction(rna, reduction, what = "rna")
    .check_reduction(atac, reduction, what = "atac")
    .check_same_model(list(rna = .reduction_model(rna, reduction),
                           atac = .reduction_model(atac, reduction)), reduction, check.model)
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
  cut <- .link_cutoffs(pvalue.cutoff, score.cutoff, qvalue.cutoff)
  by <- NULL
  if (!is.null(group.by)) {
    if (!is.character(group.by) || !length(group.by) %in% 1:2) {
      .stopf("`group.by` must be NULL, one metadata column or two (rna column, atac column).")
    }
    by <- rep(group.by, length.out = 2)
    pred <- paste0("predicted.", group.by[1])
    if (length(group.by) == 1L && !by[2] %in% colnames(atac[[]]) &&
        pred %in% colnames(atac[[]])) {
      by[2] <- pred   # unpaired ATAC cells: the labels transferred from RNA
    }
    .check_meta(rna, by[1], "group.by", "rna")
    .check_meta(atac, by[2], "group.by", "atac", hint = if (length(group.by) == 1L) sprintf(
      " Transfer the labels first (TransferMinNetLabels(atac, rna, refdata = '%s') adds '%s'), or pass group.by = NULL.",
      group.by, pred) else "")
  }
  ann <- .annotation_table(annotation)
  rp <- CreateMinNetAnnDataPieces(rna, expression.assay, "counts")
  ap <- CreateMinNetAnnDataPieces(atac, peak.assay, "counts")
  if (!.looks_like_peaks(ap$var_names)) {
    .stopf("assay '%s' does not hold peaks named 'chr-start-end' (e.g. '%s').", peak.assay,
           ap$var_names[1])
  }
  if (is.null(model)) {
    emb_r <- SeuratObject::Embeddings(rna[[reduction]])
    emb_a <- SeuratObject::Embeddings(atac[[reduction]])
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

  # The numbers, the method, the annotation and the embeddings' widths are checked by the core.
  .core()
  if (verbose) {
    message(sprintf("LinkMinNetPeaks: %d RNA cells, %d ATAC cells, %s mini-bulks requested.",
                    length(rp$obs_names), length(ap$obs_names), format(n.bulks)))
  }
  ad_r <- .pieces_to_adata(rp, by[1], list(X_minnet = emb_r))
  ad_a <- .pieces_to_adata(ap, by[2], list(X_minnet = emb_a))
  res <- .py_call(.bridge()$link_pipeline(
    ad_r, ad_a, .py_frame(ann),
    groupby = if (is.null(by)) NULL else as.list(by),
    n_bulks = .py_num(n.bulks), distance = .py_num(distance), method = method,
    genes = if (is.null(genes)) NULL else reticulate::np_array(as.character(genes)),
    n_background = .py_num(n.background), smooth = smooth,
    n_neighbors = .py_num(n.neighbors), percentile = percentile, seed = .py_num(seed),
    distance_prior = distance.prior
  ), "LinkMinNetPeaks", c(.py_names(c("n.bulks", "n.background", "n.neighbors",
                                      "distance.prior")),
                          groupby = "group.by", use_rep = "reduction"))
  links <- .frame_from_columns(res$links)
  if (nrow(links) == 0L) {
    links <- data.frame(gene = character(), peak = character(), score = numeric(),
                        zscore = numeric(), pvalue = numeric(), qvalue = numeric(),
                        distance = numeric(), correlation = numeric())
  }
  links <- .check_links(links)
  if (verbose) {
    message(sprintf("LinkMinNetPeaks: %d gene-peak pairs tested over %d mini-bulks; %d pass the cutoffs for Links() (q < %s, p < %s, |score| > %s).",
                    nrow(links), as.integer(res$n_bulks),
                    nrow(.significant_links(links, cut)), format(qvalue.cutoff),
                    format(pvalue.cutoff), format(score.cutoff)))
  }
  if (isTRUE(return.links)) {
    return(links)
  }
  atac <- .store_links(atac, links, peak.assay, cut,
                       genome = if (methods::is(annotation, "GRanges")) .genome_of(annotation))
  # Keep the logged parameters small: describe large arguments instead of storing them.
  annotation <- sprintf("<annotation of %d genes>", nrow(ann))
  genes <- if (is.null(genes)) NULL else sprintf("<%d genes>", length(genes))
  if (!is.null(model)) {
    model <- sprintf("<MinNetModel %s>", paste(model$modalities, collapse = "+"))
    reduction <- NULL
  }
  command <- SeuratObject::LogSeuratCommand(atac, return.command = TRUE)
  command@assay.used <- peak.assay
  .store_command(atac, command, "LinkMinNetPeaks", peak.assay)
}
