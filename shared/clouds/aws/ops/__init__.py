"""aws ops: entry modules the registry loads (listed in escher.clouds.provider)."""
