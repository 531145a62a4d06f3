"""Python training pipeline for the step-by-step decomposer (see docs/ARCHITECTURE.md)."""
