"""``depthlab play``: a live page that trains a net while it shows gradient flow against depth (spec: play.md).

``create_app`` builds the Starlette app (routes, security checks, the job manager); ``serve`` runs it on
uvicorn and prints the page's address with its token as the first line.
"""
