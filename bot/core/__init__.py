"""Pure domain logic: no I/O, no SDKs, no SQLAlchemy, no clock reads."""
