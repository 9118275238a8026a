"""The hub on Slurm: the batch script (script.py), the queue (queue.py) and the spawner
(spawner.py). `c.JupyterHub.spawner_class = "jobwrapper.hub.slurm.spawner.JobwrapperSlurmSpawner"`;
docs/slurm.md."""
