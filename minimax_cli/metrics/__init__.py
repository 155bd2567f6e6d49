"""Metrics and local theory: spectra at critical points (spectrum), τ* for τ-GDA (tau_star),
seed 004's step sizes and iteration bounds on bilinear games (bilinear_bounds)."""
