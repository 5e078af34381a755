"""lmac: listenable explanations (L-MAC, LMAC-TD) for audio classifiers, reproducibly."""

__version__ = "0.1.0"
