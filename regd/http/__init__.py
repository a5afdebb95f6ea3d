"""The HTTP faces of regd: /v2 (OCI Distribution), health, and later /token and /api/v1."""
