"""Card payments: the provider interface and its implementations."""
