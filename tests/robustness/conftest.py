"""Robustness of the harness itself: fuzzed inputs, a fuzzed reference service, and chaos aimed at mlchaos."""
