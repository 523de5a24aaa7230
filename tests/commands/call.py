"""``python -m tests.commands.call ARGS``: ``call_command("multidb_migrate", *ARGS)`` in a fresh process.

Prints the command's output; a ``CommandError`` is printed as ``CommandError: <message>`` on stderr, exit 3
(anything else propagates: a traceback, exit 1).
"""

import sys

import django
from django.core.management import CommandError, call_command

django.setup()
try:
    call_command("multidb_migrate", *sys.argv[1:], stdout=sys.stdout)
except CommandError as error:
    print(f"CommandError: {error}", file=sys.stderr)
    sys.exit(3)
