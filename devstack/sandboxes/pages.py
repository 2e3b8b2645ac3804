"""Web helpers shared by the provider sandboxes: no-store responses, the page skeleton and its rendering.

Each sandbox keeps its own colours, extra CSS rules, markup and scripts; this module holds only what
their pages and API answers have in common.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

from werkzeug.wrappers import Response

__all__ = ["BASE_STYLE", "PAGE_CSP", "html_response", "json_response", "page", "render"]

#: The Content-Security-Policy of a page with inline style and script that only calls its own origin.
PAGE_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def json_response(body: object, status: int = 200) -> Response:
    """``body`` as JSON, never cached."""
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def html_response(page: str, status: int = 200, *, csp: str | None = None) -> Response:
    """An HTML page, never cached, with ``csp`` as its Content-Security-Policy if given."""
    response = Response(page, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    # The page's URL holds a token or verification id: do not leak it to other sites.
    response.headers["Referrer-Policy"] = "no-referrer"
    if csp is not None:
        response.headers["Content-Security-Policy"] = csp
    return response


#: The rules both sandboxes' pages share: a centred card (``main``) whose width, accent colour and
#: outcome buttons each sandbox sets in its own style, which comes after this one and may override it.
BASE_STYLE = """
  :root { color-scheme: light dark; --ok: #1f8a4c; --ko: #c0392b; --warn: #b7791f; }
  * { box-sizing: border-box; }
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
         display: grid; place-items: center; min-height: 100vh; background: Canvas; color: CanvasText; }
  main { padding: 1.5rem; border: 1px solid #8884; border-radius: 12px; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  .muted { opacity: .7; font-size: .9rem; margin: 0 0 1rem; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: .25rem 1rem; margin: 0 0 1rem; }
  dt { opacity: .7; } dd { margin: 0; font-weight: 600; }
  label { display: block; margin: 0 0 1rem; font-size: .9rem; }
  .buttons { display: grid; gap: .5rem; }
  button { font: inherit; padding: .6rem; border: 0; border-radius: 6px; color: #fff; cursor: pointer; }
  button:disabled { opacity: .45; cursor: not-allowed; }
  #message { color: var(--ko); min-height: 1.5em; margin: .5rem 0 0; }
"""


def page(title: str, *, style: str, body: str, body_attributes: Mapping[str, str] | None = None) -> str:
    """A whole HTML document: ``<head>`` with ``title`` and BASE_STYLE followed by ``style``, then ``body``.

    ``body`` is the markup inside ``<body>`` and is used as is; ``title`` and the values of
    ``body_attributes`` (the ``<body>`` element's attributes, in order) are HTML-escaped.
    """
    attributes = "".join(
        f' {name}="{html.escape(value, quote=True)}"' for name, value in (body_attributes or {}).items()
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{html.escape(title)}</title>
<style>{BASE_STYLE}{style}</style>
</head>
<body{attributes}>
{body}</body>
</html>
"""


def render(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each placeholder (a key of ``values``) replaced by its value, HTML-escaped."""
    for placeholder, value in values.items():
        template = template.replace(placeholder, html.escape(value, quote=True))
    return template
