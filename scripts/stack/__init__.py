"""The local runtime: starts the real servers the platform needs, with no Docker.

The same code serves the pytest fixtures and `make dev`.
"""
