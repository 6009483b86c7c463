"""The web app served by the node under /app/ (issue 13): server-rendered pages for every role, a
small vanilla ES-module script for wallet signing, no CDN, no build step (see web.router)."""
