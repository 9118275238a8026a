"""What runs inside the Jupyter server after exec: extensions loaded by
jupyter-server (port report, lifecycle, notifications, desktop), the ipc kernel
manager, the process tree, the JupyterLab plugin."""
