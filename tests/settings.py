"""Settings for the test run: hub.settings with test defaults in the environment.

Subprocesses started by tests use hub.settings with the same environment
(tests/fixtures/processes.py), so both sides see the same keys.
"""

import os

from cryptography.fernet import Fernet

os.environ.setdefault("ESS_ALLOW_INSECURE_SECRET_KEY", "1")
os.environ.setdefault("ESS_ENCRYPTION_KEYS", Fernet.generate_key().decode())

from hub.settings import *  # noqa: E402,F403
