"""Delivery channels: one transport each (HTTP webhook, SFTP), nothing of Django models."""
