"""Connectors: one module per external system (mapping + channel), found automatically."""
