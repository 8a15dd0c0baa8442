"""Scoring usable outside the environments (entity F1, token reports, BLEU/chrF rewards)."""
