"""The hub's connection to a job: the connect-to-job command (condor_ssh_to_job) as a
background tunnel, socket mode's unix-socket forwards, the probe for a server gone
behind its tunnel."""
