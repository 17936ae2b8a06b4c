"""mlchaos."""
