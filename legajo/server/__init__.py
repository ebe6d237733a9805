"""`legajo serve`: the archive as a shared HTTP service (JSON API, IIIF) beside the workbench.

`app.create_app` builds the ASGI application; `context.ServerContext` is what every route
reads (the database, the search service, the server's settings); `auth` turns a request's
credentials into an account and a role.
"""
