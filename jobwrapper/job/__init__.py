"""Every job's pipeline: read (ads, environment, site config), plan (pure data),
apply (the only writes). Login shells, `run`, `env`, `info`, `doctor` and the
notebook commands all start here."""
