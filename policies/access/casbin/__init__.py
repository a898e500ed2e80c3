"""Data, not code: the Casbin model (`model.conf`) and the default policy (`policy.csv`).

Kept as a package so that both files ship inside the wheel. The only modules that import the
`casbin` library are `policies.access.casbin_engine`, `casbin_storage` and `casbin_reference`.
"""
