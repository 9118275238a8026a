"""What the site tells and offers its users on the hub: news and planned maintenance
(news.py), profiles and limits per group and user (profiles.py), both from small TOML
files the admin edits (tomlfile.py)."""
