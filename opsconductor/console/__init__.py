"""The web console: the built React bundle (``bundle/``, made from ``console/`` by ``npm run
build`` and committed, so serving it needs only Python) and the view that answers every console
page with its ``index.html``. The console speaks only the public API (docs/console.md)."""
