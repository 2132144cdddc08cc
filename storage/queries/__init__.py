"""Reusable queries that work on both SQLite and PostgreSQL."""
