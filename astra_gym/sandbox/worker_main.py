"""Entry point of the sandbox worker process (``python -m``).

Kept separate from :mod:`.worker`, which the package imports, so that ``-m``
does not execute an already-imported module a second time.
"""

import sys

from astra_gym.sandbox.worker import main

if __name__ == "__main__":
    main(sys.argv[1:])
