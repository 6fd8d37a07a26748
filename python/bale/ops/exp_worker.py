"""The processes the experiment queue starts (see :mod:`bale.ops.exp_queue`)::

    python -m bale.ops.exp_worker worker ROOT N [LOCK_FD]   a worker
    python -m bale.ops.exp_worker task ROOT REF             one task's run

Apart from the queue's logic because this is where a process opens its
repository: ``bale.repo`` uses the queue's module, which so cannot use it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bale.ops import exp_queue
from bale.repo import Repo


def main(argv: list[str]) -> int:
    kind, root = argv[0], Path(argv[1])
    repo = Repo(root)
    if kind == "worker":
        return exp_queue.worker_main(repo, int(argv[2]), int(argv[3]) if len(argv) > 3 else None)
    return exp_queue.task_main(repo, argv[2])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
