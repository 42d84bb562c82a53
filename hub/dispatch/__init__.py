"""Webhook delivery processes: the dispatcher loop (dispatcher.py), its sender threads
(sender.py) and its wake-up on NOTIFY (wakeup.py). The policy lives in
hub.services.deliveries; nothing here decides a retry.
"""
