"""Approved sources → parsed, chunked, access-tagged, embedded chunks in the vector store."""
