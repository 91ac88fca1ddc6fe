"""The documentation pages, served with their assets from the installed package
(fastapi-offline ships Swagger UI's and ReDoc's bundles), so /docs and /redoc render
without reaching a CDN: on an offline laptop, behind a strict proxy, under a CSP of 'self'."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs/assets"
ASSETS_MAX_AGE_S = 86_400  # the bundles change only with the package; a day keeps upgrades visible


class _Assets(StaticFiles):
    """The bundles, with a day's Cache-Control besides the ETag and Last-Modified
    StaticFiles sends (so a reload revalidates at most daily)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = f"public, max-age={ASSETS_MAX_AGE_S}"
        return response


def install_docs(app: FastAPI, openapi_url: str) -> None:
    """/docs (Swagger UI), /docs/oauth2-redirect and /redoc, and the assets they load."""
    app.mount(ASSETS_URL, _Assets(directory=ASSETS), name="docs-assets")
    favicon = f"{ASSETS_URL}/favicon.png"
    redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
            oauth2_redirect_url=redirect,
        )

    @app.get(redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
