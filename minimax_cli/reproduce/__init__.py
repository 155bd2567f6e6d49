"""Paper reproductions: `minimax reproduce NAME` (engine.py runs them; one module per reproduction
declares its variants, claims and figures; registry.py names them)."""
