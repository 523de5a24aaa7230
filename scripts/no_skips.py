"""Fail unless a pytest JUnit XML report shows tests that ran and none skipped.

    python scripts/no_skips.py REPORT.xml

Used by scripts/test: here every test must run, so a skipped server test (or an empty run) is a failure.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree


def verdict(report: str) -> tuple[bool, str]:
    """(ok, one-line summary) for the JUnit XML file ``report``."""
    suites = list(ElementTree.parse(report).getroot().iter("testsuite"))
    count = {key: sum(int(s.get(key, 0)) for s in suites) for key in ("tests", "skipped", "failures", "errors")}
    summary = ", ".join(f"{value} {key}" for key, value in count.items())
    if count["tests"] == 0:
        return False, f"no test ran ({summary})"
    if count["skipped"]:
        names = [f"{case.get('classname')}::{case.get('name')}" for case in ElementTree.parse(report).iter("testcase")
                 if case.find("skipped") is not None]
        return False, f"{count['skipped']} test(s) skipped, every test must run here: {', '.join(names[:10])}"
    return True, summary


if __name__ == "__main__":
    ok, line = verdict(sys.argv[1])
    print(("ok: " if ok else "error: ") + line, file=sys.stdout if ok else sys.stderr)
    sys.exit(0 if ok else 1)
