"""ClassAds: the job ad, the machine ad, the parsed submit description, the
subset of expressions the pool evaluates, HTCondor's quoting."""
