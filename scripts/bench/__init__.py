"""`make bench`: the platform overhead benchmark (see __main__.py)."""
