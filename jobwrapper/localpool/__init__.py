"""An emulated local HTCondor 25.0 pool for tests and the demo (see docs/localpool.md).

`python -m jobwrapper.localpool install-bin DIR --pool-dir POOL` writes
condor_submit, condor_q, condor_rm and condor_ssh_to_job shims into DIR. They are
never installed as console scripts, so a real HTCondor is never shadowed.
"""
