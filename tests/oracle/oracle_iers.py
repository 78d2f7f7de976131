"""Shared set-up for the oracle scripts: offline astropy with the project's IERS data."""
import os

from astropy.utils import iers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def repo_path(rel):
    return os.path.join(REPO, rel)


def _extended_finals():
    """astropy's bundled finals2000A with its last predicted row repeated to
    2032: beyond its predictions astropy would otherwise zero the polar
    motion, where the project keeps the nearest values (its documented
    policy). Same data, same policy on both sides."""
    import tempfile

    lines = [l for l in open(iers.IERS_A_FILE) if len(l) > 68 and l[58:68].strip()]
    last = lines[-1]
    mjd = int(float(last[7:15]))
    extra = []
    for m in range(mjd + 1, 63500):
        day = last[:7] + f"{m:8.2f}" + last[15:]
        extra.append(day)
    path = os.path.join(tempfile.gettempdir(), f"finals2000A_extended_{os.getpid()}.all")
    with open(path, "w") as f:
        f.writelines(lines + extra)
    return path


def use_project_iers():
    """No downloads, and exactly the IERS data of the project's table:
    astropy's bundled finals2000A (IERS-A, Bulletin B where present), not
    IERS_Auto's merge with the C04 series; nearest values beyond its end."""
    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    iers.conf.iers_degraded_accuracy = "ignore"
    path = _extended_finals()
    try:
        iers.earth_orientation_table.set(iers.IERS_A.open(path))
    finally:
        os.remove(path)
