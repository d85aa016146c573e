# One image for web, worker, beat and the one-shot migration (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=portal.settings PORTAL_VAR_DIR=/app/var
RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app

COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

COPY . .
# Build-time only values: collectstatic and compilemessages need settings, not secrets.
RUN DJANGO_ENV=development python manage.py compilemessages --ignore=.venv -v0 \
    && DJANGO_ENV=production SECRET_KEY=build-only ALLOWED_HOSTS=build.invalid \
       DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://build.invalid:6379/0 \
       EMAIL_URL=smtp://build.invalid:25 \
       python manage.py collectstatic --noinput -v0 \
    && useradd --system --uid 10001 --home /app portal && mkdir -p /app/var/media && chown -R portal /app/var

USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "-c", "gunicorn.conf.py"]
