# Signac LinkPeaks on paired single cells, for benchmarks/links_quality.py (issue 18).
#
#   Rscript run_linkpeaks.R <dir> <distance> <n_sample>
#
# <dir> holds rna.mtx (genes x cells, raw counts), atac.mtx (peaks x cells, raw counts),
# genes.txt, peaks.txt (chr-start-end), cells.txt and annotation.csv (gene_name, chrom,
# tss, strand). Writes <dir>/links.csv with every tested pair (gene, peak, score, zscore,
# pvalue as Signac computes it: pnorm(-|z|)) and <dir>/seconds.txt (LinkPeaks alone).
# Cut-offs are opened (pvalue_cutoff = 1, score_cutoff = 0) so the caller can apply BH
# over all tested pairs. GC content is set constant, so Signac's background is matched
# on accessibility (count) and peak length only.
suppressPackageStartupMessages({
  library(Matrix)
  library(Signac)
  library(Seurat)
  library(GenomicRanges)
})

args <- commandArgs(trailingOnly = TRUE)
dir <- args[[1]]
distance <- as.numeric(args[[2]])
n_sample <- as.integer(args[[3]])
if (!requireNamespace("qlcMatrix", quietly = TRUE)) stop("qlcMatrix is missing")

cells <- readLines(file.path(dir, "cells.txt"))
genes <- readLines(file.path(dir, "genes.txt"))
peaks <- readLines(file.path(dir, "peaks.txt"))
rna <- as(readMM(file.path(dir, "rna.mtx")), "CsparseMatrix")
atac <- as(readMM(file.path(dir, "atac.mtx")), "CsparseMatrix")
dimnames(rna) <- list(genes, cells)
dimnames(atac) <- list(peaks, cells)

ann <- read.csv(file.path(dir, "annotation.csv"), stringsAsFactors = FALSE)
gr <- GRanges(
  seqnames = ann$chrom,
  ranges = IRanges(start = ann$tss, end = ann$tss),
  strand = ann$strand,
  gene_name = ann$gene_name,
  gene_id = ann$gene_name,
  gene_biotype = "protein_coding"
)

obj <- CreateSeuratObject(counts = rna, assay = "RNA")
obj <- NormalizeData(obj, verbose = FALSE)
obj[["peaks"]] <- CreateChromatinAssay(
  counts = atac, sep = c("-", "-"), annotation = gr, min.cells = 0, min.features = 0
)
rng <- granges(obj[["peaks"]])
meta <- data.frame(
  GC.percent = 0.5, sequence.length = width(rng), row.names = rownames(obj[["peaks"]])
)
obj[["peaks"]] <- AddMetaData(obj[["peaks"]], metadata = meta)
DefaultAssay(obj) <- "peaks"

t0 <- proc.time()[["elapsed"]]
obj <- LinkPeaks(
  obj, peak.assay = "peaks", expression.assay = "RNA", distance = distance,
  n_sample = n_sample, pvalue_cutoff = 1, score_cutoff = 0, verbose = FALSE
)
secs <- proc.time()[["elapsed"]] - t0
lk <- as.data.frame(Links(obj))
out <- data.frame(
  gene = lk$gene, peak = lk$peak, score = lk$score, zscore = lk$zscore, pvalue = lk$pvalue
)
write.csv(out, file.path(dir, "links.csv"), row.names = FALSE)
writeLines(format(secs), file.path(dir, "seconds.txt"))
