"""Adapters to the systems faults act through. Each maps its library's errors to :mod:`mlchaos.injectors.base`'s."""
