"""Smoke mode: any configuration run end to end at its full model sizes, with every count shrunk.

Like Lightning's ``fast_dev_run``, a smoke run proves the plumbing and the shapes, not the numbers:
:mod:`lmac.smoke.mode` rewrites the counts of a config (clips, epochs, steps, seeds) and leaves its
sizes, clip length, classes, front end and switches alone; :mod:`lmac.smoke.mark` marks every table
and figure it writes. ``make smoke-paper`` (:mod:`lmac.smoke.paper`) runs config/paper.yaml that way
against stand-in downloads (:mod:`lmac.smoke.standins`) served on the loopback interface
(:mod:`lmac.smoke.loopback`).
"""
