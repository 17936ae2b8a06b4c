"""Helpers shared by the test folders, importable from any test as ``support`` (pytest's ``pythonpath`` holds
``tests``): ``from support.waiting import wait_until``.

- ``waiting``: ``wait_until``, the one bounded poll every test uses.
- ``cli_runs``: the ``mlchaos`` command driven as a user would, and what the reference gateway counted.
- ``local_processes``: a free loopback port, and children that die with the test process.
- ``prometheus_server``: a real Prometheus scraping a test's service.
- ``fast_loop``: the markers of what a test needs beyond the Python process, and the guard of ``make check``.

Helpers used by one folder only stay in it (``engine_helpers.py``, ``k8s_cluster.py``, ...).
"""
