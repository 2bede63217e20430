# Figs 8 and 9: architecture and code-size sweeps, and the regularisation check (issue 4).
