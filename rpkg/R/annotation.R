# Gene annotations: Signac's GRanges or a data.frame, as the table the core reads.

#' Convert a gene annotation to MinNet's table
#'
#' MinNet's core wants one row per gene with `gene_name`, `chrom`, `tss` (1-based) and
#' `strand` (optional `end`, the other end of the gene body). A `GRanges` such as Signac's
#' `Annotation(object)` (one row per exon/CDS/UTR, gene names in the `gene_name` metadata
#' column) is collapsed in R to one row per gene spanning all its ranges (on the chromosome
#' where the name first appears), with `chrom = seqnames`, `tss = start` on `+` (and `*`)
#' strands and `end` on `-` strands. A data.frame is read by the core's
#' `minnet.genomics.read_annotation`, the function every MinNet computation reads
#' annotations with: strands `+`/`-` or `1`/`-1`, whole-number positions, rows without
#' `gene_name`, `chrom` or `tss` dropped, the first row of a duplicated gene kept. In a
#' `GRanges`, a missing (`NA` or empty) `gene_name` falls back to the `gene_id`, as in Signac.
#'
#' [TrainMinNet()] and [LinkMinNetPeaks()] accept either form and do this themselves; use
#' this function to look at (or check) the table they will use.
#'
#' @param annotation A data.frame (`gene_name, chrom, tss, strand`, optional `end`,
#'   `gene_id`) or a `GRanges` with a `gene_name` metadata column.
#'
#' @return A data.frame with columns `gene_name`, `chrom`, `tss` (integer), `strand`
#'   (`"+"`/`"-"`), `end` (integer, when known) and `gene_id` (when present).
#' @export
#' @examples
#' \dontrun{
#' CreateMinNetAnnotation(data.frame(gene_name = c("A", "B"), chrom = "chr1",
#'                                   tss = c(1000, 5000), strand = c("+", "-1")))
#' }
CreateMinNetAnnotation <- function(annotation) {
  ann <- .annotation_table(annotation)
  if (methods::is(annotation, "GRanges")) {
    return(ann)
  }
  .core()
  cols <- .py_call(.bridge()$read_annotation(.py_columns(ann), .py_missing(ann)),
                   "CreateMinNetAnnotation")
  out <- .frame_from_columns(cols)
  for (col in intersect(c("tss", "end"), colnames(out))) {
    out[[col]] <- as.integer(out[[col]])
  }
  out
}

# A data.frame for the core (which validates it): a GRanges collapsed to one row per gene
# here (the core does not read GRanges), a data.frame as it is.
.annotation_table <- function(annotation) {
  if (methods::is(annotation, "GRanges")) {
    return(.annotation_from_granges(annotation))
  }
  if (!is.data.frame(annotation)) {
    .stopf("`annotation` must be a data.frame (gene_name, chrom, tss, strand) or a GRanges (e.g. Signac's Annotation()), got class '%s'.",
           paste(class(annotation), collapse = "/"))
  }
  as.data.frame(annotation, stringsAsFactors = FALSE)
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
  # Signac falls back to gene_id where gene_name is missing (e.g. Ensembl genes without a symbol)
  df$gene_name <- as.character(df$gene_name)
  if ("gene_id" %in% colnames(df)) {
    miss <- is.na(df$gene_name) | !nzchar(df$gene_name)
    df$gene_name[miss] <- as.character(df$gene_id)[miss]
  }
  df <- df[!is.na(df$gene_name) & nzchar(df$gene_name), , drop = FALSE]
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

