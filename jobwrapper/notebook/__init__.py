"""What prepares and execs the notebook server: the notebook part of the plan,
kernels, the server's config, the hub's secrets, bind and exec."""
