"""Settings for the test suite: the real settings with test-only isolation on top.

The environment is set before the real settings are read, so processes that the tests
start (daphne, media workers, the fake OpenAI) inherit exactly the same configuration.
"""

from __future__ import annotations

import os
import secrets
import tempfile

# Our own key prefix in the shared Redis; the suite deletes its keys when it ends.
os.environ.setdefault("REDIS_KEY_PREFIX", f"ot-test-{os.getpid()}-{secrets.token_hex(3)}:")
os.environ.setdefault("ICE_HOST_ADDRESSES", "127.0.0.1")
os.environ.setdefault("ICE_ALLOWED_PEER_NETWORKS", "loopback")
os.environ["ICE_SERVERS"] = "[]"
# A developer's real key never reaches a test; a test that needs a key set passes a fake one.
os.environ["OPENAI_API_KEY"] = os.environ.get("TEST_OPENAI_API_KEY", "")
# Like ./scripts/dev: the tests that need production's defaults set them themselves.
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SIGNUP_MODE", "open")

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file (not memory) so the processes the tests start share it; one per run, so two
    # runs on one machine never delete each other's database.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"openai-translate-test-{os.getpid()}.sqlite3")
    }
else:
    # PostgreSQL (.ci/run): a test database per run too, so concurrent runs on one server never
    # drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_openai_translate_{os.getpid()}"}  # noqa: F405
