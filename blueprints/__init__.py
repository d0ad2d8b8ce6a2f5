"""Feature blueprints, one package each: routes (views), forms, models, service (rules)."""
