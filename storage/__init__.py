"""Persistence: SQLAlchemy models, the session factory and Alembic migrations."""
