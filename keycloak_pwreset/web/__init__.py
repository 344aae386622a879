"""The web layer: thin HTTP handlers over the flows, HTML pages and a JSON API."""
