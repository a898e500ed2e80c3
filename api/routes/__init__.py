"""The HTTP routes, one module per capability; each handler parses, calls one service, maps."""
