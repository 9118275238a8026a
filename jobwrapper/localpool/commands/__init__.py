"""The emulated condor_* commands (shims dispatch here)."""
