"""Remote registries and the pull-through cache in front of them."""
