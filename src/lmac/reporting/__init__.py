"""Reporting: aggregated tables and figures from evaluation outputs."""
