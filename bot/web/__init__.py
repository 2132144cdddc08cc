"""The one HTTP server: platform webhooks, health, metrics, dashboard and web chat."""
