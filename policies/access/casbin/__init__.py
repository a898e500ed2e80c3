"""Data, not code: the Casbin model (`model.conf`) and the default policy (`policy.csv`).

Kept as a package so that both files ship inside the wheel. The only module that imports the
`casbin` library is `policies.access.casbin_engine`.
"""
