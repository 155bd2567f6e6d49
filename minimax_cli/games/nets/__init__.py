"""Networks of neural games, used functionally on flat parameter vectors (see flat.py)."""
