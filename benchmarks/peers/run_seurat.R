# Runner: Seurat v4 label transfer and co-embedding of held-out RNA and ATAC (gene activity) or
# ADT cells, unpaired, following Seurat's "Integrating scRNA-seq and scATAC-seq data" vignette.
#
#   Rscript benchmarks/peers/run_seurat.R --data TASK_DIR --out OUT [--seed 0]
#
# RNA (labelled reference): NormalizeData → 2,000 variable features → ScaleData → PCA.
# ATAC query: the gene activity assay "ACTIVITY" (the driver computes it like Signac's
#   GeneActivity: peaks over gene body + 2 kb upstream), NormalizeData, ScaleData; LSI of the
#   peaks (TF-IDF as Signac's RunTFIDF, truncated SVD with irlba, scaled embeddings, as
#   Signac's RunSVD: Signac itself is not installable here) for the anchor weights.
# ADT query: CLR-normalised proteins ("ACTIVITY" assay too); anchors on the proteins whose
#   names are gene names of the RNA; weights from the CCA.
# FindTransferAnchors(reduction = "cca", features = VariableFeatures(rna) present in the query)
# → TransferData(refdata = cell_type) for the labels (pred_other.csv), and
# → TransferData(refdata = RNA data of the variable genes) = imputed RNA of the query cells
# → merge with the RNA → ScaleData(do.scale = FALSE) → RunPCA → first 30 PCs = the
#   co-embedding (z_rna.csv, z_other.csv).
suppressPackageStartupMessages({
  library(Matrix)
  library(Seurat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
arg <- function(name, default = NULL) {
  i <- match(paste0("--", name), args)
  if (is.na(i)) default else args[[i + 1]]
}
data_dir <- arg("data")
out_dir <- arg("out")
seed <- as.integer(arg("seed", "0"))
if (is.null(data_dir) || is.null(out_dir)) stop("usage: seurat.R --data DIR --out DIR [--seed N]")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
set.seed(seed)

read_mat <- function(name, cells) {
  m <- as(readMM(file.path(data_dir, paste0(name, ".mtx"))), "CsparseMatrix")
  m <- Matrix::t(m)  # features x cells
  rownames(m) <- readLines(file.path(data_dir, paste0(name, "_features.txt")))
  colnames(m) <- cells
  m
}

# TF-IDF (Signac RunTFIDF, method 1) and truncated SVD (Signac RunSVD, scaled embeddings)
run_lsi <- function(peaks, n) {
  n <- min(n, ncol(peaks) - 1, nrow(peaks) - 1)
  tf <- Matrix::t(Matrix::t(peaks) / pmax(Matrix::colSums(peaks), 1))
  idf <- ncol(peaks) / pmax(Matrix::rowSums(peaks), 1)
  norm <- tf * idf
  norm@x <- log1p(norm@x * 1e4)
  sv <- irlba::irlba(A = Matrix::t(norm), nv = n)
  emb <- sv$u
  emb <- t((t(emb) - colMeans(emb)) / apply(emb, 2, sd))
  rownames(emb) <- colnames(peaks)
  colnames(emb) <- paste0("LSI_", seq_len(ncol(emb)))
  emb
}

meta <- fromJSON(file.path(data_dir, "meta.json"))
rna_obs <- read.csv(file.path(data_dir, "rna_obs.csv"), stringsAsFactors = FALSE)
other_obs <- read.csv(file.path(data_dir, "other_obs.csv"), stringsAsFactors = FALSE)
rna_counts <- read_mat("rna", rna_obs$cell)
if (meta$modality == "atac") {
  query_counts <- read_mat("activity", other_obs$cell)
  peaks <- read_mat("other", other_obs$cell)
} else {
  query_counts <- read_mat("other", other_obs$cell)
}

t0 <- Sys.time()
rna <- CreateSeuratObject(counts = rna_counts, assay = "RNA")
rna$cell_type <- rna_obs$cell_type
rna <- NormalizeData(rna, verbose = FALSE)
rna <- FindVariableFeatures(rna, nfeatures = 2000, verbose = FALSE)
rna <- ScaleData(rna, verbose = FALSE)
npcs <- min(50, ncol(rna) - 1, length(VariableFeatures(rna)) - 1)
rna <- RunPCA(rna, npcs = npcs, verbose = FALSE)

query <- CreateSeuratObject(counts = query_counts, assay = "ACTIVITY")
if (meta$modality == "atac") {
  query <- NormalizeData(query, verbose = FALSE)
  features <- intersect(VariableFeatures(rna), rownames(query))
  lsi <- run_lsi(peaks, 50)
  query[["lsi"]] <- CreateDimReducObject(embeddings = lsi, key = "LSI_", assay = "ACTIVITY")
  n_dims <- min(30, length(features) - 1)
  weight_reduction <- query[["lsi"]]
  weight_dims <- 2:min(30, ncol(lsi))
} else {
  query <- NormalizeData(query, normalization.method = "CLR", margin = 2, verbose = FALSE)
  features <- intersect(rownames(rna), rownames(query))
  n_dims <- min(30, length(features) - 1)
  weight_reduction <- "cca"
  weight_dims <- 1:n_dims
}
if (length(features) < 3) stop(sprintf("only %d features shared by RNA and the query", length(features)))
query <- ScaleData(query, features = features, verbose = FALSE)

anchors <- FindTransferAnchors(reference = rna, query = query, features = features,
                               reference.assay = "RNA", query.assay = "ACTIVITY",
                               reduction = "cca", dims = 1:n_dims, verbose = FALSE)
n_anchors <- nrow(anchors@anchors)
k_weight <- min(50, n_anchors - 1)
pred <- TransferData(anchorset = anchors, refdata = rna$cell_type,
                     weight.reduction = weight_reduction, dims = weight_dims,
                     k.weight = k_weight, verbose = FALSE)

genes_use <- VariableFeatures(rna)
refdata <- GetAssayData(rna, assay = "RNA", slot = "data")[genes_use, ]
imputed <- TransferData(anchorset = anchors, refdata = refdata,
                        weight.reduction = weight_reduction, dims = weight_dims,
                        k.weight = k_weight, verbose = FALSE)
query[["RNA"]] <- imputed
DefaultAssay(query) <- "RNA"
coembed <- merge(x = rna, y = query)
coembed <- ScaleData(coembed, features = genes_use, do.scale = FALSE, verbose = FALSE)
n_co <- min(30, ncol(coembed) - 1, length(genes_use) - 1)
coembed <- RunPCA(coembed, features = genes_use, npcs = n_co, verbose = FALSE)
emb <- Embeddings(coembed, "pca")[, 1:n_co]
secs <- as.numeric(difftime(Sys.time(), t0, units = "secs"))

write.table(emb[colnames(rna), ], file.path(out_dir, "z_rna.csv"), sep = ",",
            row.names = FALSE, col.names = FALSE)
write.table(emb[colnames(query), ], file.path(out_dir, "z_other.csv"), sep = ",",
            row.names = FALSE, col.names = FALSE)
write.csv(data.frame(cell = colnames(query), predicted = pred[colnames(query), "predicted.id"]),
          file.path(out_dir, "pred_other.csv"), row.names = FALSE)
info <- list(method = "Seurat v4", version = paste("Seurat", as.character(packageVersion("Seurat"))),
             seconds = secs, row_order = "exchange",
             settings = sprintf(paste("anchor features %d, CCA dims %d, anchors %d, k.weight %d,",
                                      "weights %s, co-embedding PCs %d"),
                                length(features), n_dims, n_anchors, k_weight,
                                if (meta$modality == "atac") "LSI 2:30" else "CCA", n_co))
writeLines(toJSON(info, auto_unbox = TRUE), file.path(out_dir, "info.json"))
