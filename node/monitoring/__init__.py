"""Shipped monitoring: Prometheus alert rules for the node's metrics (``alerts.yml``)."""
