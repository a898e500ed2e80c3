"""Shared infrastructure that is not about policy, retrieval or answers: the state database's
schema migrations (`infra.state_migrations`), its SQL helpers (`sql_upsert`, `sql_sweep`) and
cron expressions in settings. The lowest layer: it imports nothing of the project."""
