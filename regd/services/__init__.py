"""Domain operations that span the registry and its grants, each one transaction.

Above ``regd.registry`` and ``regd.auth`` (which do not know each other), below the HTTP
layer, whose handlers parse, call one of these and render.
"""
