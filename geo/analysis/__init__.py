"""Analyses: pure vectorised functions over frames, plus thin query modules."""
