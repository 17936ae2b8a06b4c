"""riskd: another team's payment risk scorer, used only by the tests to prove that mlchaos works on services
that share none of the reference stack's conventions (paths, field names, tier names and where the tier is
told, metric names and encodings, error shapes, leniency, web frameworks).

    from riskd.stack import RiskdStack     # the launcher (supervisord, toxiproxy, three Python programs)
    from riskd.data import transactions    # clean labelled traffic, the training distribution

Programs: ``profiles`` (profile store), ``scorer`` (gold model server), ``risk-api`` (the gateway), each run
by supervisord as ``python -m riskd.<module> --config WORKDIR/riskd.json``, plus ``toxiproxy``. Defect flags
(planted bugs) are listed in :data:`riskd.config.DEFECTS`.

Nothing is imported here: the programs import only what they need (risk-api never loads mlchaos).
"""
