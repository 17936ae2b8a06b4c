"""A third-party package as a team would write one: two faults (one acting on the target, one on request
contents) and a verifier of its own, registered with mlchaos through entry points, never by editing mlchaos. The
test installs it with its ``.dist-info`` (see ``test_extension.py``); its ``pyproject.toml`` would say::

    [project.entry-points."mlchaos.faults"]
    feature_flag = "acme_chaos.feature_flag:INJECTOR"
    shouting_inputs = "acme_chaos.shouting:INJECTOR"

    [project.entry-points."mlchaos.verifiers"]
    unanswered_share = "acme_chaos.unanswered_share:VERIFIER"
"""
