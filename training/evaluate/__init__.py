"""Evaluation harness: our decomposer next to the paper's released decomposers (issue 3).

Run with `python -m training.evaluate --help` from the repository root.
"""
