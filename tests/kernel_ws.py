"""Running code in a kernel over its websocket, through the hub's proxy (for the tests
that drive a real server as a browser would)."""

from __future__ import annotations

import asyncio
import json
import uuid


async def execute(url: str, token: str, code: str, wait: bool = True) -> str:
    """Send `code` to the kernel's channels at `url`; its stdout, once the kernel is idle
    again (with `wait`; without, return once the request has reached the kernel)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    connection = await asyncio.wait_for(websocket_connect(
        HTTPRequest(url, headers={"Authorization": f"token {token}"})), 60)
    msg_id = uuid.uuid4().hex
    connection.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "",
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False}}))
    output = ""
    while wait:
        message = json.loads(await asyncio.wait_for(connection.read_message(), 120))
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream":
            output += message["content"]["text"]
        # iopub's "idle" for our request comes after all of its output
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    if not wait:
        await asyncio.sleep(2)  # the request reached the kernel
    connection.close()
    return output
