"""API documentation: a contract a till developer can generate a client from, and Swagger UI
that works without the internet.

Swagger UI's files come from the `swagger-ui-bundle-v2` package and are served by the service
itself, never from a CDN (a back office may have no way out, and a page that loads scripts
from elsewhere is one more thing to trust). Every operation has a readable, stable
operationId (its function's name unless it names one), and every error answer is declared as
`application/problem+json` with its schema; each kind of error is described at its `type`
URI, GET /problems/<slug>.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from httpkit.problems import PROBLEM, PROBLEM_MEDIA_TYPE, PROBLEM_TYPES

ASSETS = "/static/docs"


def operation_id(route: APIRoute) -> str:
    """`record_purchase`, `unique_customers`: the handler's name, stable across versions."""
    return route.name


def _problems_as_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Error answers are application/problem+json, not the application/json FastAPI assumes."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[:1] in "45" and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return schema


def install_docs(app: FastAPI) -> None:
    """/docs, its OAuth2 redirect page, Swagger UI's files under /static/docs/, the problem
    types at /problems/<slug>, and the OpenAPI document with problem+json errors."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-files")
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problems_as_problem_json(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get(
        "/problems/{slug}",
        tags=["errors"],
        responses={404: PROBLEM, 422: PROBLEM},
        summary="What a kind of error means",
    )
    async def describe_problem(slug: str) -> dict[str, Any]:
        """The meaning of an error answer's `type` (e.g. /problems/unknown-product)."""
        kind = PROBLEM_TYPES.get(slug)
        if kind is None:
            raise HTTPException(404, f"no kind of error is called {slug!r}")
        return {"type": kind.uri, **asdict(kind)}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
