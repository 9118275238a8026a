"""A notebook kernel stand-in: a cluster of 3 worker jobs computes, prints what it saw
as one JSON line, then closes the cluster ("close") or waits to be killed ("hang")."""

from __future__ import annotations

import json
import sys
import time

from distributed import Client

from jobwrapper.dask import cluster


def main(mode: str) -> None:
    started = time.monotonic()
    workers = cluster(3)
    client = Client(workers)
    client.wait_for_workers(3, timeout=120)
    up = time.monotonic() - started
    squares = client.map(lambda x: x * x, range(1000))
    total = client.submit(sum, squares).result()
    hosts = {info.get("name") for info in client.scheduler_info()["workers"].values()}
    print(json.dumps({
        "total": total, "workers": sorted(hosts), "up_seconds": round(up, 1),
        "jobs": sorted(job.job_id for job in workers.workers.values()),
        "dashboard": workers.dashboard_link, "scheduler": workers.scheduler_address,
        "seconds": round(time.monotonic() - started, 1),
    }), flush=True)
    if mode == "close":
        client.close()
        workers.close()
        print("closed", flush=True)
    else:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1])
