"""Loaded by every inner run with ``-p inner_pidfile``: the inner process's pid, as soon as pytest starts (before
anything is provisioned), into the file ``$INNER_PID_FILE``."""

import os

with open(os.environ["INNER_PID_FILE"], "w") as out:
    out.write(str(os.getpid()))
