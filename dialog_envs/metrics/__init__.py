"""Scoring usable outside the environments (classification reports, entity F1, BLEU rewards)."""
