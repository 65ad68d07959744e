"""How things look: Jinja filters, the SVG charts' geometry, partial-or-page rendering for HTMX and
the rendered-page cache. Only blueprints use these; services never do."""
