"""``depthlab play``: a live page that trains a net and shows its gradient flow against depth (docs/play.md).

``create_app`` builds the Starlette app (routes, security checks, the job manager); ``serve`` runs it on
uvicorn and prints the page's address with its token as the first line.
"""
