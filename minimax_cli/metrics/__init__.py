"""Metrics of neural games: FID (fid.py) and the Inception score (inception_score.py)."""
