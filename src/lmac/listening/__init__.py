"""Listening to the explanations: the report's listening page (:mod:`.page`), the listening-test kit
(:mod:`.kit`, a MUSHRA or MOS test that runs offline in a browser) and the analysis of its ratings
(:mod:`.ratings`, :mod:`.analysis`)."""
