"""Analyses of a latent space: distances between subspaces, warpage, how far a global direction holds."""
