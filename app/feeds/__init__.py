"""Subscribable feeds: expiring, revocable, read-only links to one chart or one plan's
calendar, for an ``<img src>`` or a calendar subscription (no Authorization header)."""
