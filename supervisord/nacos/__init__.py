"""Nacos as the config centre: where to find it (settings), how to talk to it (client), the local cache."""
