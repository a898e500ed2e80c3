"""Versioned prompt templates (`<id>.<version>.txt`), read by `agent.llm.prompts`.

A template never changes once released: a changed prompt is a new version file, so the
id + version recorded on every answer always names the exact text that produced it.
"""
