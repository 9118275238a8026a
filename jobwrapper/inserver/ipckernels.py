"""Kernels over ipc with short socket paths (socket mode; loaded by the server only).

jupyter_client names a kernel's ipc files after its connection file,
``<runtime>/kernel-<uuid>-ipc-<N>``: with a scratch dir such as
``/var/lib/condor/execute/dir_12345`` that is longer than the 107 bytes a unix socket
path may have. This kernel manager puts them in the private dir's ``k/`` under the
first 12 hex digits of the kernel id instead: ``<private>/k/<12 hex>-<N>``.
"""

from __future__ import annotations

import os

from jupyter_server.services.kernels.kernelmanager import ServerKernelManager
from traitlets import Unicode, default


class IpcKernelManager(ServerKernelManager):
    """ServerKernelManager with ipc transport and short ipc paths in ``ipc_dir``."""

    ipc_dir = Unicode("", config=True, help="0700 directory of the kernels' ipc files.")

    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    @default("ip")
    def _ip_default(self) -> str:
        if self.transport != "ipc" or not self.ipc_dir:
            return super()._ip_default()
        name = os.path.basename(self.connection_file or "kernel")
        name = name.removeprefix("kernel-").replace("-", "")[:12] or "kernel"
        return os.path.join(self.ipc_dir, name)
