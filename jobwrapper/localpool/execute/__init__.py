"""The execute side: the per-job shadow/starter, slots, processes, sessions,
file transfer, network namespaces, the user log."""
