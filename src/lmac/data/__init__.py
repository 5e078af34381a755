"""Data: download, synthesis, preparation, loading and noise mixing."""
