"""The embedded local runtime behind ``make run`` (moto server + Chalice's local gateway)."""
