"""Access control: who a request runs as, and what that principal may read or do.

`engine` is the policy engine port (`PolicyEngine`) and `casbin_engine` its adapter
(`CasbinPolicyEngine`, the only module importing casbin) on the model and default policy in
`casbin/` (data files); `rules` validates policy lines and compiles them into lookup tables;
`principal` parses principal references (`user:<id>`, `group:<name>`, `public`); `filters`
holds the backend-neutral `AccessFilter` a principal is compiled into; `settings`
(`PolicySettings`) says where the model and the policy live.
"""

__all__ = ["casbin_engine", "engine", "filters", "principal", "rules", "settings"]
