"""What the site tells and offers its users on the hub: news and planned maintenance
(news.py), profiles and limits per group and user (profiles.py), both from small TOML
files the admin edits (tomlfile.py); why a job waits (waiting.py) and the pool's free
resources (poolstatus.py); the notice when a waited-for notebook is ready
(readynotice.py); more time for a running session (sessiontime.py)."""
