"""Great-circle geometry for location features.

"Home" is the mean of unit vectors rather than the mean of latitudes and longitudes: the
latter puts someone who shops on both sides of the 180th meridian in the middle of the world.
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088


def unit_vector(latitude: float, longitude: float) -> tuple[float, float, float]:
    """The point on the unit sphere for degrees north/east."""
    lat = math.radians(latitude)
    lon = math.radians(longitude)
    cos_lat = math.cos(lat)
    return cos_lat * math.cos(lon), cos_lat * math.sin(lon), math.sin(lat)


def km_between_vectors(a: tuple[float, float, float], bx: float, by: float, bz: float) -> float:
    """Great-circle distance from unit vector ``a`` to the direction ``(bx, by, bz)``.

    ``b`` need not be normalised (a sum of unit vectors works); ``atan2`` of cross and dot
    products stays accurate for tiny and antipodal angles alike. NaN when ``b`` is zero
    (locations that cancel out have no meaningful centre).
    """
    ax, ay, az = a
    cx = ay * bz - az * by
    cy = az * bx - ax * bz
    cz = ax * by - ay * bx
    cross = math.sqrt(cx * cx + cy * cy + cz * cz)
    dot = ax * bx + ay * by + az * bz
    if cross == 0.0 and dot == 0.0:
        return math.nan
    return EARTH_RADIUS_KM * math.atan2(cross, dot)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points in degrees."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dlat = p2 - p1
    dlon = math.radians(lon2 - lon1)
    h = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
