"""Kubernetes access for ferry's processes: a small asyncio client over aiohttp that speaks
plain dicts (no model classes on hot paths), with discovery, paged lists, resumable watches,
server-side apply, typed errors and a client-side rate limit (QPS/burst).
"""
