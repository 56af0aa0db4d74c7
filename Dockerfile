# The one image behind web, worker, beat and the migration step of docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# The dependencies first, exactly as locked (versions and hashes: two builds install the same
# code), then the app itself without resolving anything again.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY setup.cfg pyproject.toml README.md ./
COPY api api
COPY core core
COPY worker worker
COPY migrations migrations
COPY alembic.ini Procfile gunicorn.conf.py ./
RUN pip install --no-deps .
RUN useradd --create-home boxoffice
USER boxoffice
EXPOSE 8000
CMD ["gunicorn", "api:create_app()", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
