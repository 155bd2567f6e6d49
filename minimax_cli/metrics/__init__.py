"""Metrics beyond the runner's standard ones: distributions.py (W1, KL, mode coverage), fid.py (FID),
inception_score.py (Inception score), spectrum.py / tau_star.py / bilinear_bounds.py (local theory)."""
