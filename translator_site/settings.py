"""Settings for openai-translate: one module, configured by environment variables.

Every variable is documented in `.env.example`. Defaults are safe for a local
development machine; `DEBUG=0` turns on the production checks.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in envstr(name, default).split(",") if item.strip()]


def envjson(name: str, default: Any) -> Any:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be JSON: {exc}") from None


# Off unless asked for: ./scripts/dev and the test settings turn it on themselves.
DEBUG = envbool("DEBUG", False)


def _secret_key() -> str:
    key = envstr("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    # Development only: a key generated once and kept beside the checkout, never in git.
    key_file = BASE_DIR / ".secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

PUBLIC_BASE_URL = envstr("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "*" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", PUBLIC_BASE_URL)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "channels",
    "allauth",
    "allauth.account",
    "rooms",
    "media_workers",
]

MIDDLEWARE = [
    # First: load balancers, Docker and Prometheus reach /healthz, /readyz and /metrics by
    # address over plain HTTP, so these answer before the host check and the HTTPS redirect.
    "translator_site.health.ProbeMiddleware",
    # Before anything reads the client's address (rate limits, allauth, logs).
    "translator_site.proxy.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "translator_site.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The page language: the language cookie (the footer switcher), else Accept-Language...
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # ...but a signed-in person's (or guest's) own choice wins.
    "rooms.middleware.ProfileLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "translator_site.urls"
WSGI_APPLICATION = "translator_site.wsgi.application"
ASGI_APPLICATION = "translator_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rooms.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, media worker and Celery share the file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
# The pages' languages: the 13 a listener can hear (rooms/languages.py), by their native names.
# Catalogs in locale/ (see the README, "Translating the pages"); allauth brings its own, except
# for hi and vi (none) and pt (its pt_BR): locale_allauth/ fills those in.
LANGUAGES = [
    ("en", "English"),
    ("es", "Español"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("it", "Italiano"),
    ("pt", "Português"),
    ("ru", "Русский"),
    ("zh-hans", "中文（简体）"),
    ("ja", "日本語"),
    ("ko", "한국어"),
    ("hi", "हिन्दी"),
    ("id", "Bahasa Indonesia"),
    ("vi", "Tiếng Việt"),
]
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_allauth"]
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development whitenoise serves straight from the app and STATICFILES_DIRS folders;
# collectstatic (production) gathers them into STATIC_ROOT.
STATIC_ROOT = None if DEBUG else Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))

SITE_ID = 1
LOGIN_REDIRECT_URL = "rooms:list"
LOGIN_URL = "account_login"

# --- Redis: one server for cache, channel layer, worker registry and Celery ---------------
REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")
# Every key this service writes starts with this prefix, so it can share a Redis server
# (tests use a prefix of their own and delete their keys afterwards).
REDIS_KEY_PREFIX = envstr("REDIS_KEY_PREFIX", "ot:")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX + "cache",
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "translator_site.channel_layer.RedisChannelLayer",
        "CONFIG": {
            # channels_redis blocks 5 s in BZPOPMIN; redis-py's default 5 s socket timeout
            # would race it and fail idle listeners, so reads may take longer here.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
            "prefix": REDIS_KEY_PREFIX + "asgi",
            "capacity": 500,
            "expiry": 30,
        },
    }
}

CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX + "celery:"}
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Seconds between checks that each live call's translation matches its owner's quota now
# (a raised quota or a new month lifts a block; one room over quota blocks the owner's others).
TRANSLATION_BLOCK_REFRESH_SECONDS = envfloat("TRANSLATION_BLOCK_REFRESH_SECONDS", 60.0)
# Periodic housekeeping run by `celery beat` (tasks in rooms/tasks.py).
CELERY_BEAT_SCHEDULE: dict[str, Any] = {
    # Today's and yesterday's totals, and any older day a late report changed since.
    "rollup-daily-usage": {"task": "rooms.tasks.rollup_daily_usage", "schedule": 600.0},
    "refresh-translation-blocks": {
        "task": "rooms.tasks.refresh_translation_blocks",
        "schedule": TRANSLATION_BLOCK_REFRESH_SECONDS,
    },
    "expire-invites": {"task": "rooms.tasks.expire_invites", "schedule": 3600.0},
    "end-orphaned-calls": {"task": "rooms.tasks.end_orphaned_calls", "schedule": 60.0},
    "purge-guests": {"task": "rooms.tasks.purge_guests", "schedule": 3600.0},
    "purge-transcripts": {"task": "rooms.tasks.purge_transcripts", "schedule": 3600.0},
}

# --- Accounts (django-allauth) ---------------------------------------------------------------
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = envstr("ACCOUNT_EMAIL_VERIFICATION", "optional" if DEBUG else "mandatory")
ACCOUNT_ADAPTER = "rooms.adapters.AccountAdapter"
# Who may make an account: open (anyone), invite (only someone holding a usable room invite)
# or closed (staff make accounts in the admin). Staff can always make accounts.
SIGNUP_MODE = envstr("SIGNUP_MODE", "invite")
if SIGNUP_MODE not in ("open", "invite", "closed"):
    raise ImproperlyConfigured(f"SIGNUP_MODE must be open, invite or closed, not {SIGNUP_MODE!r}")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_RATE_LIMITS = {
    "login": envstr("LOGIN_ANY_RATE_LIMIT", "30/m/ip"),
    "login_failed": envstr("LOGIN_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "signup": envstr("SIGNUP_RATE_LIMIT", "20/h/ip"),
    "reset_password": "20/m/ip,5/m/key",
}

EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "openai-translate <noreply@localhost>")

# --- Rooms and invites -----------------------------------------------------------------------
INVITE_DEFAULT_EXPIRY_DAYS = envint("INVITE_DEFAULT_EXPIRY_DAYS", 7)
# Rate limits (django-ratelimit, counted in the shared cache): "count/period", period s, m, h or d.
# Opening invite links (and joining as a guest) per IP address; creating invites per owner.
INVITE_OPEN_RATE = envstr("INVITE_OPEN_RATE", "60/10m")
INVITE_CREATE_RATE = envstr("INVITE_CREATE_RATE", "30/h")
RATELIMIT_USE_CACHE = "default"
# Guests one invite link may let in, and guests one room may hold (each refused with a page).
MAX_GUESTS_PER_INVITE = envint("MAX_GUESTS_PER_INVITE", 10)
MAX_GUESTS_PER_ROOM = envint("MAX_GUESTS_PER_ROOM", 25)
# Expired or revoked invites are deleted this many days after they stopped working.
INVITE_EXPIRED_GRACE_DAYS = envint("INVITE_EXPIRED_GRACE_DAYS", 30)
# Guest accounts with no sign-in and no call for this many days are deleted with their data.
GUEST_RETENTION_DAYS = envint("GUEST_RETENTION_DAYS", 30)
# Transcripts of calls that started this many days ago are deleted (their dates and people stay).
TRANSCRIPT_RETENTION_DAYS = envint("TRANSCRIPT_RETENTION_DAYS", 90)
# A speaker's utterance ends after this many seconds with no new words from their translations.
TRANSCRIPT_PAUSE_SECONDS = envfloat("TRANSCRIPT_PAUSE_SECONDS", 1.5)
if TRANSCRIPT_PAUSE_SECONDS <= 0:
    raise ImproperlyConfigured(f"TRANSCRIPT_PAUSE_SECONDS must be positive, not {TRANSCRIPT_PAUSE_SECONDS}")
if TRANSCRIPT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured(f"TRANSCRIPT_RETENTION_DAYS must be 1 or more: {TRANSCRIPT_RETENTION_DAYS}")

# --- Metering and quotas ---------------------------------------------------------------------
# US dollars per minute of audio sent to each translation model (the billing basis).
MODEL_PRICES_PER_MINUTE: dict[str, float] = envjson(
    "MODEL_PRICES_PER_MINUTE", {"gpt-realtime-translate": 0.034}
)
# US dollars per million tokens of each class for the token-billed models (the interpreter
# for listener languages the translate model cannot speak; see media_workers/runtime/interpreter.py).
# Classes: input_text, input_audio, cached_text, cached_audio, output_text, output_audio.
MODEL_PRICES_PER_MILLION_TOKENS: dict[str, dict[str, float]] = envjson(
    "MODEL_PRICES_PER_MILLION_TOKENS",
    {
        "gpt-realtime-2.1": {
            "input_text": 4.0,
            "input_audio": 32.0,
            "cached_text": 0.4,
            "cached_audio": 0.4,
            "output_text": 16.0,
            "output_audio": 64.0,
        }
    },
)
# Translation minutes a month for all of one owner's rooms, for every account without a quota
# of its own (staff set one in the admin); 0: nobody translates until staff grant minutes.
MONTHLY_MINUTES_QUOTA = envint("MONTHLY_MINUTES_QUOTA", 600)
# The most the whole site may spend on translation in a calendar month (UTC), in the currency
# of MODEL_PRICES_PER_MINUTE; at it, translation stops in every call. Empty: no limit.
GLOBAL_MONTHLY_SPEND_LIMIT: float | None = (
    envfloat("GLOBAL_MONTHLY_SPEND_LIMIT", 0.0) if envstr("GLOBAL_MONTHLY_SPEND_LIMIT") else None
)

# --- OpenAI Realtime Translation -------------------------------------------------------------
OPENAI_API_KEY = envstr("OPENAI_API_KEY")
# Without a key the service runs in demo mode against the local fake translator, but only
# when asked for (DEBUG on, or DEMO_MODE=1): a production worker without a key refuses to start.
DEMO_MODE = not OPENAI_API_KEY and envbool("DEMO_MODE", DEBUG)
FAKE_OPENAI_HOST = envstr("FAKE_OPENAI_HOST", "127.0.0.1")
FAKE_OPENAI_PORT = envint("FAKE_OPENAI_PORT", 8765)
OPENAI_BASE_URL = envstr(
    "OPENAI_BASE_URL",
    f"http://{FAKE_OPENAI_HOST}:{FAKE_OPENAI_PORT}/v1" if DEMO_MODE else "https://api.openai.com/v1",
)
OPENAI_TRANSLATION_MODEL = envstr("OPENAI_TRANSLATION_MODEL", "gpt-realtime-translate")
# Source-language captions ("the original underneath"); empty turns them off.
OPENAI_INPUT_TRANSCRIPTION_MODEL = envstr("OPENAI_INPUT_TRANSCRIPTION_MODEL", "gpt-realtime-whisper")
OPENAI_NOISE_REDUCTION = envstr("OPENAI_NOISE_REDUCTION", "far_field")
# Listener languages the translate model cannot speak (contract.TURN_BASED_LANGUAGES) are
# interpreted turn by turn by this general realtime voice model (`/v1/realtime`), in this voice;
# a pause this long ends a turn, and each session keeps only this many conversation items.
OPENAI_INTERPRETER_MODEL = envstr("OPENAI_INTERPRETER_MODEL", "gpt-realtime-2.1")
OPENAI_INTERPRETER_VOICE = envstr("OPENAI_INTERPRETER_VOICE", "marin")
OPENAI_INTERPRETER_SILENCE_MS = envint("OPENAI_INTERPRETER_SILENCE_MS", 500)
OPENAI_INTERPRETER_KEEP_ITEMS = envint("OPENAI_INTERPRETER_KEEP_ITEMS", 2)
# How much audio the worker gathers before each input_audio_buffer.append. The engine answers
# per complete 200 ms frame, so any chunk that divides 200 ms waits the same (bench/README.md:
# 20/40/100/200 ms within ~10 ms at p50); smaller ones cost more messages (20 ms: ~20 % more
# worker CPU), 100 ms bounds what a frame boundary not on a chunk boundary could add.
TRANSLATION_CHUNK_MS = envint("TRANSLATION_CHUNK_MS", 100)
TRANSLATION_RECONNECT_MAX_DELAY = envfloat("TRANSLATION_RECONNECT_MAX_DELAY", 8.0)
# OpenAI ends every session at a maximum duration (its `expires_at`). This long before that,
# a successor session takes over the speaker's audio while the old one flushes; 0 turns the
# rotation off (a session then runs until it expires and reconnects, losing what was in flight).
TRANSLATION_ROTATE_SECONDS = envfloat("TRANSLATION_ROTATE_SECONDS", 60.0)

# --- Media workers ---------------------------------------------------------------------------
# RTCIceServer dicts handed to both aiortc and the browser; empty keeps ICE on host candidates.
ICE_SERVERS: list[dict[str, Any]] = envjson("ICE_SERVERS", [])
# The addresses aiortc offers as host candidates; empty means every interface aioice finds.
ICE_HOST_ADDRESSES = envlist("ICE_HOST_ADDRESSES", "")
# Where a browser's ICE candidates may point: networks (10.1.0.0/16), `global` (public unicast
# addresses), `loopback`, `private`. Empty means `global`: other candidates are dropped, so
# nobody can make the worker probe its own networks.
ICE_ALLOWED_PEER_NETWORKS = envlist("ICE_ALLOWED_PEER_NETWORKS", "")
# Remote ICE candidates a participant may give (in the offer and trickled); more are dropped.
MAX_ICE_CANDIDATES_PER_PARTICIPANT = envint("MAX_ICE_CANDIDATES_PER_PARTICIPANT", 32)
# People in one call; the next one is refused with `call_full`.
MAX_PARTICIPANTS_PER_CALL = envint("MAX_PARTICIPANTS_PER_CALL", 8)
# Translation sessions running at once in one call, and for one owner across all their rooms
# (counted in Redis, so rooms on different media workers share the owner's limit).
MAX_TRANSLATION_SESSIONS_PER_CALL = envint("MAX_TRANSLATION_SESSIONS_PER_CALL", 16)
MAX_TRANSLATION_SESSIONS_PER_OWNER = envint("MAX_TRANSLATION_SESSIONS_PER_OWNER", 32)
# A participant's listening-language changes take effect at most this often (the last wins),
# so flipping languages cannot open and close translation sessions at will.
LANGUAGE_CHANGE_INTERVAL_SECONDS = envfloat("LANGUAGE_CHANGE_INTERVAL_SECONDS", 3.0)
# A speaker muted this long has their translation sessions closed (nobody pays for silence);
# unmuting opens them again.
MUTED_SESSION_CLOSE_SECONDS = envfloat("MUTED_SESSION_CLOSE_SECONDS", 10.0)
MEDIA_WORKER_CAPACITY = envint("MEDIA_WORKER_CAPACITY", 20)
MEDIA_WORKER_HEARTBEAT_SECONDS = envfloat("MEDIA_WORKER_HEARTBEAT_SECONDS", 1.0)
MEDIA_WORKER_HEARTBEAT_TTL = envfloat("MEDIA_WORKER_HEARTBEAT_TTL", 4.0)
# On SIGTERM a worker moves its calls and keeps the old ones playing this long meanwhile.
MEDIA_WORKER_DRAIN_SECONDS = envfloat("MEDIA_WORKER_DRAIN_SECONDS", 3.0)
# A participant whose browser sends no audio for this long is gone (network loss).
PARTICIPANT_SILENCE_TIMEOUT = envfloat("PARTICIPANT_SILENCE_TIMEOUT", 10.0)
# How often a signalling connection in a call checks that its media worker is alive; a worker
# whose heartbeat is late is pinged, and one that doesn't answer within WORKER_PING_TIMEOUT
# seconds is dead: the call moves to another worker.
WORKER_WATCH_SECONDS = envfloat("WORKER_WATCH_SECONDS", 0.5)
WORKER_PING_TIMEOUT = envfloat("WORKER_PING_TIMEOUT", 1.0)
# A translation that answers nothing for this long after speech was sent is reconnected.
TRANSLATION_STALL_SECONDS = envfloat("TRANSLATION_STALL_SECONDS", 10.0)
# How often a worker reports the running totals of every translation session (metering).
USAGE_REPORT_SECONDS = envfloat("USAGE_REPORT_SECONDS", 15.0)
# The original voice under the translation, 0..1 (0 = off).
DEFAULT_ORIGINAL_VOLUME = envfloat("DEFAULT_ORIGINAL_VOLUME", 0.15)
PLAYOUT_MAX_MS = envint("PLAYOUT_MAX_MS", 3000)
# Opus packet length the worker sends each listener: 20 ms, or 40/60 ms for fewer packets per
# second (less CPU per listener) at the cost of that much more delay (bench/README.md).
MEDIA_PTIME_MS = envint("MEDIA_PTIME_MS", 20)
if MEDIA_PTIME_MS not in (20, 40, 60):
    raise ImproperlyConfigured(f"MEDIA_PTIME_MS must be 20, 40 or 60, not {MEDIA_PTIME_MS}")
# A packet missing from a speaker's audio is waited for while at most this many later ones have
# arrived (reordering); then it is recovered from the next packet's FEC or concealed.
MEDIA_REORDER_FRAMES = envint("MEDIA_REORDER_FRAMES", 1)
if MEDIA_REORDER_FRAMES < 0:
    raise ImproperlyConfigured(f"MEDIA_REORDER_FRAMES must be 0 or more, not {MEDIA_REORDER_FRAMES}")

# --- Signalling limits -----------------------------------------------------------------------
SIGNALLING_MAX_MESSAGE_BYTES = envint("SIGNALLING_MAX_MESSAGE_BYTES", 64 * 1024)
SIGNALLING_RATE_PER_SECOND = envfloat("SIGNALLING_RATE_PER_SECOND", 20.0)
SIGNALLING_RATE_BURST = envint("SIGNALLING_RATE_BURST", 60)

# --- TURN: per-user, time-limited credentials for coturn's use-auth-secret --------------------
# Comma-separated TURN URLs given to browsers (e.g. turn:turn.example.org:3478?transport=udp).
TURN_URLS = envlist("TURN_URLS", "")
# The secret shared with coturn (its static-auth-secret); TURN is off unless both are set.
TURN_SECRET = envstr("TURN_SECRET")
# Lifetime of a credential handed to a page. The page asks for a fresh one over its socket
# before it expires, so a removed member's credential dies within this time.
TURN_TTL_SECONDS = envint("TURN_TTL_SECONDS", 3600)

# --- Operations: health, metrics, logs, content security policy ------------------------------
# How many reverse proxies in front of daphne append to X-Forwarded-For. The client's address
# (rate limits, logs) is the entry that many places from the right; 0: the connection's own
# address, and X-Forwarded-For is ignored (anyone can send one).
TRUSTED_PROXY_HOPS = envint("TRUSTED_PROXY_HOPS", 0)
if TRUSTED_PROXY_HOPS < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_HOPS must be 0 or more, not {TRUSTED_PROXY_HOPS}")
# Who may read the web process's /metrics: comma-separated addresses or networks (CIDR).
# Requests that came through a proxy (X-Forwarded-For set) are always refused.
METRICS_ALLOWED_IPS = envlist("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
# Each media worker serves /healthz and /metrics here. The port is one port, a range such
# as 9100-9199 (the first free one: several workers on one host), or 0 (any free port).
MEDIA_WORKER_METRICS_HOST = envstr("MEDIA_WORKER_METRICS_HOST", "127.0.0.1")
MEDIA_WORKER_METRICS_PORT = envstr("MEDIA_WORKER_METRICS_PORT", "9100-9199")
# json (one object per line, for log collectors) or plain; json unless DEBUG is on.
LOG_FORMAT = envstr("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
# Pages may load scripts, styles and media only from this site, and open websockets only to
# it (in DEBUG to any ws:/wss: address, since the site is reached by LAN address and port).
_websocket_origin = urlsplit(PUBLIC_BASE_URL)._replace(
    scheme="wss" if PUBLIC_BASE_URL.startswith("https:") else "ws", path="", query="", fragment=""
)
CONTENT_SECURITY_POLICY = envstr(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self' blob:; "
    f"connect-src 'self' {'ws: wss:' if DEBUG else _websocket_origin.geturl()}; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)

# --- Production hardening --------------------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
    # Preloading binds the domain and all its subdomains to HTTPS for good: the operator's
    # choice (SECURE_HSTS_PRELOAD=1), not a default, so its deploy-check warning is expected.
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "translator_site.logs.JsonFormatter"},
    },
    # The OpenAI key and invite tokens are masked in every record, whatever logged it.
    "filters": {"redact": {"()": "translator_site.logs.RedactFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "aioice": {"level": "WARNING"},
        "aiortc": {"level": "WARNING"},
        "websockets": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
    },
}
