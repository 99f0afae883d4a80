"""One module per suite. Each defines ``TITLE``, ``DEFAULT`` (run by default) and ``run(quick: bool) -> Result``."""
