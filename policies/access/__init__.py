"""Access control: who a request runs as, and what that principal may read or do.

`engine` is the policy engine port (`PolicyEngine`) and `casbin_engine` its adapter
(`CasbinPolicyEngine`) on the model and default policy in `casbin/` (data files), with
`casbin_storage` (the policy file or table, read through Casbin's adapters) and
`casbin_reference` (the model check and Casbin's own enforcer, the reference decision): the
only modules importing casbin; `rules` validates policy lines and compiles them into lookup
tables; `principal` parses principal references (`user:<id>`, `group:<name>`, `public`); `filters`
holds the backend-neutral `AccessFilter` a principal is compiled into; `settings`
(`PolicySettings`) says where the model and the policy live.
"""

__all__ = [
    "casbin_engine",
    "casbin_reference",
    "casbin_storage",
    "engine",
    "filters",
    "principal",
    "rules",
    "settings",
]
