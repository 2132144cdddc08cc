"""The dashboard's URL map, mounted at /dashboard on the one HTTP server."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.runtime import Runtime
from bot.web.dashboard import views

STATIC = Path(__file__).resolve().parent.parent / "static"


def dashboard_routes(runtime: Runtime) -> list[BaseRoute]:
    """Return the /dashboard mount: pages, forms, downloads and the package's own assets."""

    def page(path: str, handler: views.Handler, method: str, *, signed_in: bool = True) -> Route:
        return Route(path, views.endpoint(runtime, handler, signed_in=signed_in), methods=[method])

    cohort = "/cohorts/{cohort_id:int}"
    routes: list[BaseRoute] = [
        page("/login", views.login_page, "GET", signed_in=False),
        page("/login", views.login_submit, "POST", signed_in=False),
        page("/logout", views.logout, "POST", signed_in=False),
        page("/", views.home, "GET"),
        page(cohort, views.cohort_page, "GET"),
        page(f"{cohort}/prompt", views.post_prompt, "POST"),
        page(cohort + "/people/{person_id:int}", views.timeline_page, "GET"),
        page(cohort + "/answers/{answer_id:int}/comment", views.comment, "POST"),
        page(cohort + "/pulses/{survey_id:int}", views.pulse_page, "GET"),
        page(f"{cohort}/export", views.export_download, "POST"),
        Mount("/static", app=StaticFiles(directory=STATIC), name="dashboard-static"),
    ]
    return [Mount(views.BASE, routes=routes)]
