"""The texts pytest-multidb shows its users, kept together as pytest keeps its own in ``deprecated.py``.

Every message is one line that names the alias (or test), the setting and the fix. A message is a module-level
``str`` constant in upper case in one of this package's modules (one module per part of the product: settings,
provisioning, isolation, ...), written as a ``str.format`` template with named fields::

    UNKNOWN_ALIAS = "multidb: {test} declares unknown alias {alias!r}. Fix: ..."
    raise pytest.UsageError(messages.settings.UNKNOWN_ALIAS.format(test=test, alias=alias))

The code that raises or reports a message formats it and adds nothing but other messages. docs/troubleshooting.md
lists every template; ``tests/docs/test_troubleshooting.py`` reads them from here (``templates()``).
"""

from __future__ import annotations


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s text (a driver's error can run over many lines); its type's name if empty."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def described(error: BaseException) -> str:
    """``"TypeName: first line"``: an error as one line says it."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


NO_SETTINGS = (
    "multidb: no Django settings are configured, so no database can be used. Set --multidb-settings, "
    "the ini option multidb_settings or DJANGO_SETTINGS_MODULE."
)
