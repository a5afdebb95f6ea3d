"""The measuring machinery of bench/compare.py (servers, load, dd references, reports)."""
