"""The ``mlchaos`` console script: reads the installed packages' faults and verifiers, then runs the command.

The registries are built when the CLI is imported (:mod:`mlchaos.experiments.registry`), before any command can
catch anything, so the import is caught here: a package whose entry point does not load, or registers a kind
mlchaos cannot take, is the user's environment to fix — named (the package, the entry point, what it raised) and
exit 2, never a bare traceback. Anything else raised on import is a bug in mlchaos: reported as one (its
traceback saved), exit 3.
"""

from __future__ import annotations

import sys

from mlchaos.experiments.crash import BUG_EXIT_CODE, failure_message
from mlchaos.experiments.errors import MlchaosError


def main() -> None:
    try:
        import mlchaos.experiments.cli as cli  # its import reads every installed package's kinds
    except MlchaosError as exc:  # PluginError: an installed package's fault or verifier cannot be registered
        sys.stderr.write(f"mlchaos cannot start: {exc}\n")
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug in mlchaos itself: reported as one, never as bad input
        sys.stderr.write(f"mlchaos cannot start: {failure_message(exc)}\n")
        sys.exit(BUG_EXIT_CODE)
    cli.main()


if __name__ == "__main__":
    main()
