"""Webhooks: subscriptions to the event seam's events, delivered signed (Standard Webhooks)
by a dispatcher that retries with back-off and keeps a delivery log."""
