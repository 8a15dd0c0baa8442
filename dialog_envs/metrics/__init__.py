"""Scoring usable inside and outside the environments."""
