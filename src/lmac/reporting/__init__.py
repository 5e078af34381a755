"""Reporting: aggregated tables and figures from evaluation outputs.

Metrics: ``lmac.evaluation.catalogue`` declares each metric's column, direction, range and label.
Tables, one model (``table_model``: Markdown, LaTeX, HTML, CSV): ``tables`` (metrics.{csv,md,tex,json}),
``html_table`` (its HTML for the report), paper vs. ours (``paper_tables`` loads the published numbers,
``paper_comparison``, ``paper_rendering``). Figures (PNG + PDF): ``metric_bars``, ``alpha_ablation``, ``training_curves``,
``example_panels``, sharing ``plotting``; ``explanation_figure`` is ``lmac explain``'s per-file figure.
Beyond the papers: ``clip_stats`` (per-clip pooling), ``beyond_tables`` / ``beyond_figures``
(listenability, round trip, masking operators), ``rank_stability``, ``claims``.
"""
