"""The audit record: every answer, masked, with its citations and feedback.

`store` (`AuditStore`) is the entry point; `settings` says where it lives, `models` holds its
tables, `outbox` keeps rows the database could not take on local disk, `retention` deletes
records by age, and `migrations` is the audit database's Alembic environment
(`upgrade_audit_db`).
"""

__all__ = ["migrations", "models", "outbox", "retention", "settings", "store"]
