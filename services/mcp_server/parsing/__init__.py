"""Deterministic readers for the free text the agents pass as `user_query`."""
