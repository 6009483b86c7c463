"""One pytest-style summary line for ``make test``, which runs the suite and tests/consortium as two
pytest processes side by side: the counts of both logs' summary lines added up, and the longer time.

Usage: python scripts/test_summary.py LOG [LOG ...]   (prints e.g. ``1111 passed, 3 skipped in 1090.2s``)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|warnings?|deselected)")
TIME = re.compile(r" in ([\d.]+)s")


def summary_line(text: str) -> str | None:
    """The last line of a pytest run that reports counts and a time ('no tests ran' included)."""
    for line in reversed(text.splitlines()):
        if TIME.search(line) and (COUNT.search(line) or "no tests ran" in line):
            return line
    return None


def main(argv: list[str]) -> int:
    totals: dict[str, int] = {}
    longest, missing = 0.0, []
    for name in argv:
        path = Path(name)
        line = summary_line(path.read_text(errors="replace")) if path.exists() else None
        if line is None:
            missing.append(name)
            continue
        for n, what in COUNT.findall(line):
            what = {"error": "errors", "warning": "warnings"}.get(what, what)
            totals[what] = totals.get(what, 0) + int(n)
        longest = max(longest, float(TIME.search(line).group(1)))
    order = ["failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "warnings", "errors"]
    parts = [f"{totals[k]} {k[:-1] if k in ('warnings', 'errors') and totals[k] == 1 else k}"
             for k in order if totals.get(k)]
    extra = f" (no summary in {', '.join(missing)})" if missing else ""
    print(f"{', '.join(parts) or 'no tests ran'} in {longest:.2f}s{extra}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
