"""The composition root: settings, service wiring, the CLI and (later) the HTTP API."""
