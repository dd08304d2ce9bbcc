# Production image for web, worker and beat (docker-compose.yml).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 MODELGATE_VAR_DIR=/var/lib/modelgate
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt && useradd --system --home /app modelgate \
    && mkdir -p /var/lib/modelgate && chown modelgate /var/lib/modelgate
COPY . .
RUN SECRET_KEY=build python manage.py collectstatic --noinput -v0 && chown -R modelgate /var/lib/modelgate
USER modelgate
EXPOSE 8000
CMD ["gunicorn", "-c", "python:modelgate.gunicorn", "modelgate.wsgi"]
