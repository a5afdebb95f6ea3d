"""Typed keys for what handlers find on the application."""

from __future__ import annotations

from aiohttp import web

from regd.registry import Registry

REGISTRY: web.AppKey[Registry] = web.AppKey("registry", Registry)
