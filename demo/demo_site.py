"""The demo's site news and profiles: a news banner with a planned maintenance, two
profiles, and a group with other limits (docs/hub.md "Site news", docs/form.md
"Profiles and limits per group")."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any

from jobwrapper.hub.site.news import use_site_news
from jobwrapper.hub.site.readynotice import use_ready_notice

DEMO_DIR = Path(__file__).resolve().parent
READY_LINE = ("import sys, time; open(sys.argv[1], 'a').write(time.strftime('%F %T ') + "
              "'ready after %s s: %s %s\\n' % (sys.argv[4], sys.argv[2], sys.argv[3]))")
NEWS = """\
# The demo's site news (docs/hub.md, "Site news"). The hub reads this file again when
# it changes: edit it while the demo runs and reload a hub page.

[[item]]
title = "Welcome to the jobwrapper demo"
text = "Each notebook here is an HTCondor job on the emulated local pool."
severity = "info"

[[item]]
title = "Pool upgrade"
text = "The pool is drained for an HTCondor upgrade; notebooks still running are stopped."
start = {start}
end = {end}
"""


def configure_site(c: Any, hub_dir: Path, users: list[str]) -> None:
    """News from ``hub_dir/news.toml`` (written with a maintenance 5 hours ahead when
    missing), the profiles of demo/profiles.toml, and the group "students" of every
    demo user but the first."""
    news_file = hub_dir / "news.toml"
    if not news_file.exists():
        hub_dir.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0,
                                                                   microsecond=0)
        start = now + datetime.timedelta(hours=5)
        news_file.write_text(NEWS.format(
            start=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end=(start + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")))
    use_site_news(c, str(news_file))
    # "Notify me when it is ready" on the spawn-pending page, and the site's command for
    # a spawn that waited more than a minute: here a line in hub_dir/ready-notices.log
    # (a real site sends an e-mail, docs/hub.md "Tell me when it starts").
    use_ready_notice(c)
    c.JobwrapperSpawner.ready_notify_cmd = [
        sys.executable, "-c", READY_LINE, str(hub_dir / "ready-notices.log"),
        "{username}", "{url}", "{waited}"]
    c.JobwrapperSpawner.ready_notify_after = 60.0
    c.ResourceForm.profiles_file = str(DEMO_DIR / "profiles.toml")
    c.JupyterHub.load_groups = {"students": {"users": list(users[1:])}}
