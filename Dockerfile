# Production image for web, worker, beat and backup (docker-compose.yml).
FROM python:3.11-slim-bookworm
# pg_dump and pg_restore (manage.py backup/restore) of the database server's major version:
# docker-compose passes the PG_MAJOR of its postgres image. Debian ships only its own major
# (15 in bookworm), so the client comes from the PostgreSQL project's apt repository.
ARG PG_MAJOR=16
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
       > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-${PG_MAJOR} \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 MODELGATE_VAR_DIR=/var/lib/modelgate \
    PG_BIN_DIR=/usr/lib/postgresql/${PG_MAJOR}/bin
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt && useradd --system --home /app modelgate \
    && mkdir -p /var/lib/modelgate /backups && chown modelgate /var/lib/modelgate /backups
COPY . .
RUN SECRET_KEY=build python manage.py collectstatic --noinput -v0 && chown -R modelgate /var/lib/modelgate
USER modelgate
EXPOSE 8000
CMD ["gunicorn", "-c", "python:modelgate.gunicorn", "modelgate.wsgi"]
