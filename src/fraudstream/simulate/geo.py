"""US places with their state, and great-circle distance.

Faker's geo data gives a US place's name, latitude, longitude and time zone but not its state,
which a billing address needs. This module adds the state (a fixed table for Faker's US places)
so city, state and coordinates always agree; zips come from Faker's ``zipcode_in_state``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Faker's US places (faker.providers.geo land_coords) -> state. Places missing here are skipped,
# so a Faker upgrade that adds places cannot put a city in the wrong state.
# fmt: off
_STATE_OF_PLACE: dict[str, str] = {
    "Hueytown": "AL", "Vestavia Hills": "AL", "Searcy": "AR", "Belle Glade": "FL",
    "Clermont": "FL", "Deltona": "FL", "Gainesville": "FL", "Kendall": "FL", "Lutz": "FL",
    "North Lauderdale": "FL", "Palm Valley": "FL", "Punta Gorda Isles": "FL",
    "Sun City Center": "FL", "Venice": "FL", "Acworth": "GA", "Dublin": "GA",
    "Milledgeville": "GA", "Stockbridge": "GA", "Fairview Heights": "IL", "Greenfield": "IN",
    "Hutchinson": "KS", "Covington": "KY", "Murray": "KY", "Estelle": "LA", "Shreveport": "LA",
    "Chillum": "MD", "Fort Washington": "MD", "Middle River": "MD", "Rosedale": "MD",
    "Woodlawn": "MD", "Independence": "MO", "Rolla": "MO", "Greenville": "MS", "Tupelo": "MS",
    "Fayetteville": "NC", "Leland": "NC", "Thomasville": "NC", "Sicklerville": "NJ",
    "Lebanon": "OH", "Ada": "OK", "Muskogee": "OK", "West Chester": "PA", "Lexington": "SC",
    "Brentwood Estates": "TN", "Jackson": "TN", "Abilene": "TX", "Brenham": "TX",
    "Copperas Cove": "TX", "Fresno": "TX", "Hutto": "TX", "Longview": "TX", "Palestine": "TX",
    "San Juan": "TX", "Tyler": "TX", "Bon Air": "VA", "Front Royal": "VA",
    "Mechanicsville": "VA", "Sterling": "VA", "Martinsburg": "WV", "East Haven": "CT",
    "New Canaan": "CT", "Waterbury": "CT", "Coralville": "IA", "West Des Moines": "IA",
    "Bourbonnais": "IL", "Crystal Lake": "IL", "Evergreen Park": "IL", "Huntley": "IL",
    "Lower West Side": "IL", "New City": "IL", "Pekin": "IL", "South Lawndale": "IL",
    "Westchester": "IL", "Granger": "IN", "Schererville": "IN", "Boston": "MA",
    "Fitchburg": "MA", "Malden": "MA", "Peabody": "MA", "Taunton": "MA", "Brunswick": "ME",
    "Canton": "MI", "Iron River": "MI", "Port Huron": "MI", "Waverly": "MI",
    "Columbia Heights": "MN", "Lino Lakes": "MN", "Rosemount": "MN", "Grand Forks": "ND",
    "Keene": "NH", "Dumont": "NJ", "Jersey City": "NJ", "Nutley": "NJ", "Scotch Plains": "NJ",
    "Woodbridge": "NJ", "Brighton Beach": "NY", "Cypress Hills": "NY", "Far Rockaway": "NY",
    "Greenpoint": "NY", "Kensington": "NY", "Massapequa": "NY", "Newburgh": "NY",
    "Port Richmond": "NY", "Scarsdale": "NY", "Utica": "NY", "Yonkers": "NY",
    "Collinwood": "OH", "Lakewood": "OH", "Norwalk": "OH", "Toledo": "OH", "Harrisburg": "PA",
    "Pottstown": "PA", "Middletown": "RI", "Rutland": "VT", "Kaukauna": "WI",
    "Pleasant Prairie": "WI", "Bridgeport": "CT", "Gilbert": "AZ", "Scottsdale": "AZ",
    "American Canyon": "CA", "Beaumont": "CA", "Camarillo": "CA", "Claremont": "CA",
    "Davis": "CA", "Encinitas": "CA", "Glendale": "CA", "Indio": "CA", "Laguna Niguel": "CA",
    "Lompoc": "CA", "Mira Mesa": "CA", "Norco": "CA", "Palm Desert": "CA", "Porterville": "CA",
    "Riverbank": "CA", "San Gabriel": "CA", "Santa Maria": "CA", "South Whittier": "CA",
    "North Tustin": "CA", "Watsonville": "CA", "Aurora": "CO", "Ken Caryl": "CO",
    "Carlsbad": "NM", "Pahrump": "NV", "Odessa": "TX", "Redding": "CA", "Nampa": "ID",
    "Aloha": "OR", "Keizer": "OR", "Troutdale": "OR", "Kearns": "UT", "Saratoga Springs": "UT",
    "Bothell": "WA", "Kent": "WA", "Opportunity": "WA", "Sunnyside": "WA", "Kahului": "HI",
    "Morningside Heights": "NY", "Gates-North Gates": "NY", "Bryn Mawr-Skyway": "WA",
    "Bothell West": "WA", "Visitacion Valley": "CA",
}
# fmt: on

# Standard-time offsets: local hours drive habits; daylight saving is ignored on purpose (an
# hour's shift for half the year does not change any pattern a detector should learn).
_UTC_OFFSET_H: dict[str, float] = {
    "America/New_York": -5.0,
    "America/Detroit": -5.0,
    "America/Indiana/Indianapolis": -5.0,
    "America/Chicago": -6.0,
    "America/Menominee": -6.0,
    "America/Denver": -7.0,
    "America/Boise": -7.0,
    "America/Phoenix": -7.0,
    "America/Los_Angeles": -8.0,
    "Pacific/Honolulu": -10.0,
}

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True, slots=True)
class Place:
    """A US city with its state, coordinates and standard UTC offset."""

    city: str
    state: str
    latitude: float
    longitude: float
    utc_offset_h: float


@cache
def us_places() -> tuple[Place, ...]:
    """Faker's US places that have a known state, in Faker's order (stable for a version)."""
    from faker.providers.geo import Provider as GeoProvider

    places = tuple(
        Place(city, _STATE_OF_PLACE[city], float(lat), float(lon), _UTC_OFFSET_H[tz])
        for lat, lon, city, country, tz in GeoProvider.land_coords
        if country == "US" and city in _STATE_OF_PLACE and tz in _UTC_OFFSET_H
    )
    if len(places) < 20:
        raise RuntimeError(f"Faker's geo data has only {len(places)} known US places")
    return places


def haversine_km(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance in km, vectorised."""
    p1, l1, p2, l2 = (np.radians(np.asarray(v, dtype=np.float64)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))
