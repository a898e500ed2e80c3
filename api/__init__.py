"""The outer layer: settings, the composition root (`api.bootstrap`), the HTTP API and the CLI."""
