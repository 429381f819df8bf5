"""What each feature means, in one line: for model explanations, the dashboard and reviewers.

Windows are ``[t - window, t]`` in event time and exclude the event itself; "remembered"
counts saturate at the bounds documented in :mod:`fraudstream.detector.features.state`.
"""

from __future__ import annotations

_DESCRIPTIONS: dict[str, str] = {
    "amount": "payment amount as sent",
    "log_amount": "log(1 + amount)",
    "hour_of_day": "hour of the event (UTC)",
    "day_of_week": "weekday of the event (UTC, Monday = 0)",
    "email_digit_share": "share of digits in the e-mail's local part",
    "email_domain": "e-mail domain (vocabulary code)",
    "entity_event_count": "earlier events of this entity",
    "entity_days_since_first_seen": "days since the entity's first event (account age)",
    "entity_hours_since_last_event": "hours since the entity's previous event",
    "entity_count_1h": "entity's events in the last hour",
    "entity_count_24h": "entity's events in the last 24 hours",
    "entity_count_7d": "entity's events in the last 7 days",
    "entity_hour_share": "share of the entity's events at this hour of day",
    "entity_hour_share_3h": (
        "share of the entity's events within an hour of this time of day "
        "(smoothed: 1 + events there, over 8 + events)"
    ),
    "entity_amount_sum_1h": "entity's spending in the last hour",
    "entity_amount_sum_24h": "entity's spending in the last 24 hours",
    "entity_amount_sum_7d": "entity's spending in the last 7 days",
    "entity_amount_max_7d": "entity's largest payment in the last 7 days",
    "entity_amount_to_max_7d": "amount / the entity's largest payment in the last 7 days",
    "entity_amount_zscore": "how unusual the amount is for the entity (z-score of log amount)",
    "entity_amount_to_max": "amount / the entity's largest earlier payment (remembered)",
    "entity_new_category": "first purchase in this category for the entity",
    "entity_category_share": "share of the entity's events in this category",
    "entity_distinct_categories_1h": "categories the entity bought in during the last hour",
    "entity_category_amount_zscore": (
        "how unusual the amount is for the entity in this category (z-score of log amount "
        "against its usual, not small, purchases there)"
    ),
    "entity_category_amount_to_max": (
        "amount / the entity's largest earlier payment in this category"
    ),
    "entity_new_ip": "IP address not seen before for the entity",
    "entity_distinct_ips_7d": "IP addresses the entity used in the last 7 days",
    "entity_new_email": "e-mail address not seen before for the entity",
    "entity_distinct_emails_7d": "e-mail addresses the entity used in the last 7 days",
    "entity_new_device": "device (user agent) not seen before for the entity",
    "entity_distinct_devices_7d": "devices the entity used in the last 7 days",
    "entity_ip_known_days": "days since the entity first used this IP address (0: new)",
    "entity_email_known_days": "days since the entity first used this e-mail address (0: new)",
    "entity_device_known_days": "days since the entity first used this device (0: new)",
    "entity_new_card_bin": "card BIN not seen before for the entity",
    "entity_distinct_card_bins_7d": "card BINs the entity used in the last 7 days",
    "entity_new_currency": "currency not seen before for the entity",
    "entity_distinct_currencies_7d": "currencies the entity used in the last 7 days",
    "entity_km_from_home": "km from the centre of the entity's earlier locations",
    "entity_km_from_last": "km from the entity's previous location",
    "entity_kmh_from_last": "speed implied by travelling from the previous location",
    "ip_count_1h": "events from this IP address in the last hour",
    "ip_count_24h": "events from this IP address in the last 24 hours",
    "ip_distinct_entities_1h": "entities using this IP address in the last hour",
    "ip_distinct_entities_24h": "entities using this IP address in the last 24 hours",
    "ip_distinct_entities": "entities ever seen with this IP address (remembered)",
    "ip_days_since_first_seen": "days since this IP address was first seen",
    "email_count_24h": "events with this e-mail address in the last 24 hours",
    "email_distinct_entities": "entities sharing this e-mail address (remembered)",
    "email_days_since_first_seen": "days since this e-mail address was first seen",
    "bin_count_1h": "events with this card BIN in the last hour",
    "bin_count_24h": "events with this card BIN in the last 24 hours",
    "bin_distinct_entities_1h": "entities paying with this card BIN in the last hour",
    "bin_small_amount_count_1h": "small payments (card-testing probes) on this BIN, last hour",
}


def describe(name: str, categorical: bool = False) -> str:
    """One line about a feature; raw event variables are described as such."""
    known = _DESCRIPTIONS.get(name)
    if known is not None:
        return known
    kind = "categorical (vocabulary code)" if categorical else "numeric"
    return f"event variable {name!r}, {kind}"
