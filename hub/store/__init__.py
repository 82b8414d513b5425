"""Persistence: SQLAlchemy Core tables, the batched writer, documents, platforms and the outbox."""
