"""The LLM path: the gateway in front of the model endpoints, and the composer that asks it.

`gateway` (routing, budgets, retries, a breaker per endpoint, failover) is the one entry point;
`routing`, `budget`, `breaker` and `errors` are its parts, `client` the one adapter that talks
to an OpenAI-compatible endpoint (the only module importing `openai`). `composer` turns the
gateway's reply into validated, cited sentences with `prompts` (templates in `prompt_files/`);
`settings` holds the settings of all of it, the answer cache's included.
"""

__all__ = [
    "breaker",
    "budget",
    "client",
    "composer",
    "errors",
    "gateway",
    "prompts",
    "routing",
    "settings",
]
