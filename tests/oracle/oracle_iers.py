"""Shared set-up for the oracle scripts: offline astropy with the project's IERS data."""
import os

from astropy.utils import iers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def repo_path(rel):
    return os.path.join(REPO, rel)


def use_project_iers():
    """No downloads; astropy's bundled IERS-A (the file the project's table comes from)."""
    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    iers.conf.iers_degraded_accuracy = "ignore"
