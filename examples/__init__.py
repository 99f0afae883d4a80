"""User-style own training loops for lrsearch (``task: {train: examples.<module>:train}``), run from the repo root."""
