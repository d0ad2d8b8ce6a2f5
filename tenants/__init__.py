"""Everything about tenancy: the practice registry, host -> practice resolution, schema and role
provisioning, per-request schema binding, feature toggles and the tenant migrations runner.

Blueprints import from here; nothing here imports a blueprint.
"""
