# One image for every process of the service: web, media worker, celery and beat
# (docker-compose.yml picks the command). See README.md, "Production".
FROM python:3.11.11-slim-bookworm

ENV DEBUG=0 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Dependencies first, from the runtime lock alone, so a code change reuses this layer.
# requirements.lock pins the whole tree with hashes (scripts/lock writes it from
# pyproject.toml); wheels: aiortc and PyAV bring their own codecs.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements.lock && rm /tmp/requirements.lock

RUN useradd --create-home --uid 10001 app
WORKDIR /app
COPY --chown=app:app . .
USER app

# DEBUG=0 so the manifest storage writes staticfiles.json, which production needs; the
# key is a placeholder that exists only for this build step.
RUN DEBUG=0 SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "translator_site.asgi:application"]
