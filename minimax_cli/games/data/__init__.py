"""Data of the neural games: synthetic 2-D/1-D distributions (mog.py)."""
