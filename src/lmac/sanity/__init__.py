"""Sanity checks of explanation methods (Adebayo et al. 2018 and follow-ups).

- :mod:`.similarity`: Spearman rank correlation and SSIM between two explanations of a clip;
- :mod:`.randomise`: cascading re-initialisation of the classifier and label permutation;
- :mod:`.checks`: the cascading, data-randomisation and random-logit checks for one method;
- :mod:`.summary` / :mod:`.figures`: tables with bootstrap CIs and the report figures.
"""
