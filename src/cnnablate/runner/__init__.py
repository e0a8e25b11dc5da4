"""Ablation runner: YAML specs → Optuna studies (grid or TPE) → trials → results table."""
