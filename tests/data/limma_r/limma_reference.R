# R limma reference for tests/test_differential.py (see README.md beside this script).
#   Rscript tests/data/limma_r/limma_reference.R tests/data/limma_r [output folder]
# Reads expression.tsv, expression_equal_variance.tsv and groups.tsv from the first folder; writes default.tsv,
# equal_variance.tsv and hyperparameters.tsv into the second (default: the first). The model is the project's
# (src/cic/differential.py): a cell-means design, the contrast case - control, eBayes with limma's defaults.
suppressPackageStartupMessages(library(limma))

args <- commandArgs(trailingOnly = TRUE)
input <- args[1]
output <- if (length(args) > 1) args[2] else input

groups <- read.delim(file.path(input, "groups.tsv"), colClasses = "character")
group <- factor(groups$group, levels = c("control", "case"))
design <- model.matrix(~ 0 + group)
colnames(design) <- levels(group)
contrasts <- makeContrasts(case - control, levels = design)

full <- function(x) sprintf("%.17g", x)
hyperparameters <- list()
for (name in c("default", "equal_variance")) {
  file <- if (name == "default") "expression.tsv" else "expression_equal_variance.tsv"
  expression <- as.matrix(read.delim(file.path(input, file), row.names = 1, check.names = FALSE))
  stopifnot(identical(colnames(expression), groups$sample))
  fit <- eBayes(contrasts.fit(lmFit(expression, design), contrasts))
  top <- topTable(fit, coef = 1, number = Inf, sort.by = "none", adjust.method = "BH")
  table <- data.frame(probe_set = rownames(top), logFC = full(top$logFC), AveExpr = full(top$AveExpr),
                      t = full(top$t), P.Value = full(top$P.Value), adj.P.Val = full(top$adj.P.Val),
                      B = full(top$B), df.total = full(fit$df.total))
  write.table(table, file.path(output, paste0(name, ".tsv")), sep = "\t", quote = FALSE, row.names = FALSE)
  hyperparameters[[name]] <- data.frame(branch = name, df.prior = full(fit$df.prior), s2.prior = full(fit$s2.prior),
                                        var.prior = full(fit$var.prior), proportion = full(fit$proportion))
}
write.table(do.call(rbind, hyperparameters), file.path(output, "hyperparameters.tsv"), sep = "\t", quote = FALSE,
            row.names = FALSE)
