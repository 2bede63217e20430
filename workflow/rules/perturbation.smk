# Figs 5-7: perturbation gene sets of each CIC component, their enrichment and networks (issue 7).
