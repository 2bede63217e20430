# Fig 3: leave-one-cell-type-out training, limma on held-out REPs, and enrichment (issue 5).
