"""Evaluation: faithfulness and complexity metrics for any explainer."""
