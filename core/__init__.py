"""Boxoffice's domain: models, services and rules. Imports neither Flask nor Celery."""
