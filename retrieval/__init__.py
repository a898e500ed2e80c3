"""Embedding, the vector store adapters and permission-filtered hybrid search."""
