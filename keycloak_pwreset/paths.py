"""Where the shipped theme bundle lives: inside the wheel, or at the top of a checkout."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def themes_dir() -> Path:
    bundled = _PACKAGE / "_themes"  # wheel install (see pyproject force-include)
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / "themes"  # source checkout / editable install
