"""jobwrapper: Jupyter and interactive work inside HTCondor jobs."""

__version__ = "0.1.0"
