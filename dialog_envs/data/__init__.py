"""Readers for the data formats the environments accept, and the project's generated corpora."""
