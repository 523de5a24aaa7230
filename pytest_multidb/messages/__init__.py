"""The texts pytest-multidb shows its users, kept together as pytest keeps its own in ``deprecated.py``.

Every message is one line that names the alias (or test), the setting and the fix. A message is a module-level
``str`` constant in upper case in one of this package's modules (one module per part of the product: settings,
provisioning, isolation, ...), written as a ``str.format`` template with named fields::

    UNKNOWN_ALIAS = "multidb: {test} declares unknown alias {alias!r}. Fix: ..."

The code imports its part as ``texts`` and formats the template where it raises or reports it::

    from .messages import settings as texts        # from a subpackage: from ..messages import provision as texts

    raise pytest.UsageError(texts.UNKNOWN_ALIAS.format(test=test, alias=alias))

A module that needs a second part imports it as ``<part>_texts`` (``from .messages import layer as layer_texts``);
the package's own constants (``NO_SETTINGS``) are imported by name. The code that raises or reports a message
formats it and adds nothing but other messages (and separators such as ``", "`` or an alias list).
docs/troubleshooting.md lists every template; ``tests/docs/test_troubleshooting.py`` reads them from here
(``templates()``).
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
