"""Kubernetes targets: how mlchaos reaches a cluster (:mod:`.client`), what it refuses to touch (:mod:`.guard`),
what it reads and changes there (:mod:`.workloads`) and how it samples workload readiness (:mod:`.readiness`).

The ``kubernetes`` client library is imported only in this package; faults and the engine use its functions.
"""
