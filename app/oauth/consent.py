"""The consent page: a small server-rendered form on which the athlete signs in with their
runstrong password and allows or denies an app the scopes it asks for.

The API keeps no cookie sessions, so the page asks for the password itself (under the
login rate limits). The form is protected against cross-site posting by a double-submit
token: a random nonce in a SameSite=Strict, HttpOnly cookie, and in the form an HMAC of
that nonce with the authorization request's parameters, so a forged or altered form
(other scopes, another redirect) is refused. The page cannot be framed."""

from __future__ import annotations

import hmac
import secrets
from html import escape

from app.accounts import security
from app.core.config import Settings
from app.oauth.server import Client

COOKIE = "rs_consent"
COOKIE_MAX_AGE_S = 600
PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method")

STYLE = """
body{font:16px/1.45 system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b1f24}
main{max-width:26rem;margin:2rem auto;background:#fff;padding:1.5rem;border-radius:12px;
box-shadow:0 1px 4px #0002}h1{font-size:1.25rem;margin:.2rem 0 1rem}img{width:48px;height:48px;
border-radius:8px}ul{padding-left:1.2rem}label{display:block;margin:.6rem 0 .2rem}
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}
.buttons{display:flex;gap:.6rem;margin-top:1rem}button{flex:1;padding:.6rem;font:inherit;
border-radius:8px;border:1px solid #888;background:#fff}button[value=allow]{background:#0b5cad;
color:#fff;border-color:#0b5cad}.error{color:#a00;font-weight:600}small{color:#555}
"""


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(settings: Settings, nonce: str, params: dict[str, str]) -> str:
    bound = "\n".join(params.get(name, "") for name in PARAMS)
    return security.derive(settings, "consent", f"{nonce}\n{bound}")


def csrf_ok(settings: Settings, nonce: str | None, token: str | None, params: dict[str, str]) -> bool:
    if not nonce or not token:
        return False
    return hmac.compare_digest(csrf_token(settings, nonce, params), token)


def content_security_policy(redirect_uri: str | None) -> str:
    """Styles inline, the app's https logo, and the form may post here and be redirected
    to the app's registered redirect URI only."""
    targets = "'self'" + (f" {redirect_uri}" if redirect_uri else "")
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https:; "
        f"form-action {targets}; frame-ancestors 'none'; base-uri 'none'"
    )


def render(
    client: Client,
    scopes: list[str],
    params: dict[str, str],
    csrf: str,
    *,
    email: str = "",
    error: str | None = None,
) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(params[name])}">' for name in PARAMS if name in params
    )
    logo = f'<img src="{escape(client.logo_url)}" alt="" referrerpolicy="no-referrer">' if client.logo_url else ""
    items = "".join(
        f"<li><strong>{escape(scope)}</strong>: {escape(security.SCOPES[scope])}</li>"
        for scope in scopes
        if scope in security.SCOPES
    )
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Allow {escape(client.name)} to use your runstrong account?</title><style>{STYLE}</style></head>
<body><main>
{logo}<h1>Allow <span id="app-name">{escape(client.name)}</span> to use your runstrong account?</h1>
<p>It asks to:</p><ul id="scopes">{items}</ul>
<p><small>You will be sent back to {escape(params.get("redirect_uri", ""))}.
You can disconnect the app at any time.</small></p>
{problem}
<form method="post" action="/oauth/authorize">{hidden}
<input type="hidden" name="csrf_token" value="{escape(csrf)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" value="{escape(email)}" maxlength="320">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" maxlength="128">
<div class="buttons">
<button id="deny" type="submit" name="decision" value="deny" formnovalidate>Deny</button>
<button id="allow" type="submit" name="decision" value="allow">Allow</button>
</div></form></main></body></html>"""


def render_error(message: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>This app link does not work</title><style>{STYLE}</style></head>
<body><main><h1>This app link does not work</h1><p class="error" role="alert">{escape(message)}</p>
<p><small>Go back to the app and try again, or tell its developer.</small></p></main></body></html>"""
