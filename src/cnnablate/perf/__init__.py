"""Speed regression checks: A/B against another commit, or a calibrated stored baseline."""
