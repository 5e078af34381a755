"""Explainers: one interface for L-MAC, LMAC-TD and every baseline."""
