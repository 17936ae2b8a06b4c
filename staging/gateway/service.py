"""Assembling the gateway from a stack's configuration: clients, breakers, models, metrics, the chain and the
in-flight limit."""

from __future__ import annotations

from dataclasses import dataclass

from mlchaos.staging.config import HOST, StackConfig
from mlchaos.staging.data import Transaction, training_data
from mlchaos.staging.gateway.admission import InFlightLimit
from mlchaos.staging.gateway.breaker import CircuitBreaker, Clock
from mlchaos.staging.gateway.chain import Breakers, FallbackChain
from mlchaos.staging.gateway.dependencies import AnswerCache, FeatureStore, PrimaryModelClient, redis_client
from mlchaos.staging.gateway.drift import DriftMonitor
from mlchaos.staging.gateway.metrics import GatewayMetrics
from mlchaos.staging.gateway.review import ReviewPolicy
from mlchaos.staging.models import FallbackModel, OodDetector, train_fallback
from mlchaos.staging.options import ShedMode, StackFlag, StackOptions

NO_TIMEOUT_S = 30.0
"""What "no timeout" amounts to under the no_feature_store_timeout flag (a library default someone forgot)."""


@dataclass(frozen=True)
class Gateway:
    chain: FallbackChain
    breakers: Breakers
    metrics: GatewayMetrics
    feature_store: FeatureStore
    primary: PrimaryModelClient
    cache: AnswerCache
    limit: InFlightLimit
    """Requests in the chain at once (max_in_flight); not enforced under no_load_shedding."""
    shed_mode: ShedMode
    """What a request beyond the limit gets: a rules/static answer (degrade) or 429 (reject)."""
    drift: DriftMonitor
    validate_input: bool = True
    """False under no_input_validation: bodies reach the chain as parsed, unchecked."""
    feed_drift_monitor: bool = True
    """False under no_drift_monitor: the monitor exists (its metrics read 0) but never sees a request."""

    async def close(self) -> None:
        await self.feature_store.close()
        await self.cache.close()
        await self.primary.close()


def build_gateway(
    config: StackConfig,
    *,
    fallback: FallbackModel | None = None,
    ood: OodDetector | None = None,
    training: list[Transaction] | None = None,
    clock: Clock | None = None,
) -> Gateway:
    """Wire a gateway. Nothing connects yet: clients connect on first use, and reconnect on their own.

    ``training`` is the data the models were trained on (generated from the seed if not given): the drift
    monitor compares traffic with it.
    """
    options: StackOptions = config.options
    flags = frozenset(options.flags)
    metrics = GatewayMetrics(dependencies=("feature_store", "primary_model", "cache"))

    def breaker(name: str) -> CircuitBreaker:
        return CircuitBreaker(
            name,
            options.breaker,
            clock=clock,
            never_half_open=StackFlag.BREAKER_NEVER_CLOSES in flags,
            on_transition=metrics.on_transition,
        )

    breakers = Breakers(
        feature_store=breaker("feature_store"), primary_model=breaker("primary_model"), cache=breaker("cache")
    )
    fs_timeout_s = (
        NO_TIMEOUT_S
        if StackFlag.NO_FEATURE_STORE_TIMEOUT in flags
        else options.feature_store_timeout_ms / 1000
    )
    cache_timeout_s = options.cache_timeout_ms / 1000
    # Each dependency gets its own client even where two share one Redis: separate pools, separate proxies, so
    # a fault on the feature_store proxy never touches cache connections.
    password = config.redis_password
    feature_store = FeatureStore(
        redis_client(config.proxy_port("feature_store"), password, fs_timeout_s), fs_timeout_s
    )
    cache = AnswerCache(redis_client(config.proxy_port("cache"), password, cache_timeout_s), cache_timeout_s)
    primary = PrimaryModelClient(
        f"http://{HOST}:{config.proxy_port('primary_model')}", options.primary_timeout_ms / 1000
    )
    chain = FallbackChain(
        feature_store=feature_store,
        primary=primary,
        cache=cache,
        fallback=fallback or train_fallback(options.seed),
        ood=ood or OodDetector.fit(options.seed),
        breakers=breakers,
        review=ReviewPolicy(options.review, enabled=StackFlag.NO_OOD_ROUTING not in flags),
        flags=flags,
    )
    drift = DriftMonitor(
        training if training is not None else training_data(options.seed),
        options.drift,
        clock=clock,
        on_update=metrics.show_drift,
    )
    return Gateway(
        chain=chain,
        breakers=breakers,
        metrics=metrics,
        feature_store=feature_store,
        primary=primary,
        cache=cache,
        limit=InFlightLimit(
            options.max_in_flight,
            enforced=StackFlag.NO_LOAD_SHEDDING not in flags,
            on_change=metrics.show_in_flight,
        ),
        shed_mode=options.shed_mode,
        drift=drift,
        validate_input=StackFlag.NO_INPUT_VALIDATION not in flags,
        feed_drift_monitor=StackFlag.NO_DRIFT_MONITOR not in flags,
    )
