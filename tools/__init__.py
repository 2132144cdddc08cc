"""Developer tools: catalog maintenance and migration regeneration."""
