"""The identity service's login page: plain server-rendered HTML, no scripts, no external assets.

Accessible by construction: a labelled form in document order (keyboard: Tab through user name,
password, "Log in"), the error announced with `role="alert"`, visible focus outlines, a `lang`.
Every dynamic value goes through `html.escape`.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

#: Sent with every page: nothing loads from elsewhere, nothing frames it, forms post only here.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

_STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem;
       color: #1a1a1a; background: #fafafa; }
h1 { font-size: 1.5rem; }
label { display: block; margin-top: 1rem; font-weight: 600; }
input[type=text], input[type=password] { width: 100%; padding: .5rem; font-size: 1rem;
       border: 1px solid #555; border-radius: 4px; box-sizing: border-box; }
button { margin-top: 1.25rem; padding: .5rem 1.25rem; font-size: 1rem; border-radius: 4px;
       border: 1px solid #1d4ed8; background: #1d4ed8; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #1d4ed8; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.error { border-left: 4px solid #b91c1c; background: #fee2e2; padding: .5rem 1rem; }
.ok { border-left: 4px solid #15803d; background: #dcfce7; padding: .5rem 1rem; }
code { background: #eee; padding: 0 .25rem; }
ol li { margin: .25rem 0; }
"""


@dataclass(frozen=True)
class PageContext:
    csrf: str
    ui_url: str
    codec_url: str  # this service's URL, as the UI's codec endpoint
    error: str = ""
    subject: str = ""
    name: str = ""
    groups: tuple[str, ...] = ()
    expires: str = ""


def render(ctx: PageContext) -> str:
    body = _signed_in(ctx) if ctx.subject else _form(ctx)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Retrofit — {'signed in' if ctx.subject else 'log in'}</title>"
        f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>\n"
    )


def _form(ctx: PageContext) -> str:
    error = f'<p class="error" role="alert" id="login-error">{escape(ctx.error)}</p>' if ctx.error else ""
    described = ' aria-describedby="login-error"' if ctx.error else ""
    return f"""<h1>Log in to answer approvals</h1>
<p>Your answers to approval requests in the Temporal UI are signed with the identity you log in with
here. Nobody can answer in your name by typing it.</p>
{error}
<form method="post" action="/login">
  <input type="hidden" name="csrf" value="{escape(ctx.csrf)}">
  <label for="username">User name</label>
  <input type="text" id="username" name="username" autocomplete="username" required autofocus{described}>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required{described}>
  <button type="submit">Log in</button>
</form>"""


def _signed_in(ctx: PageContext) -> str:
    groups = ", ".join(ctx.groups) or "none"
    return f"""<h1>Signed in</h1>
<p class="ok" role="status">Signed in as <strong>{escape(ctx.subject)}</strong>
({escape(ctx.name)}; groups: {escape(groups)}) until {escape(ctx.expires)} UTC.</p>
<h2>Answer an approval in the Temporal UI</h2>
<ol>
  <li>Once per browser: in the <a href="{escape(ctx.ui_url)}">Temporal UI</a>, open
    <em>Configure Codec Server</em> (top bar), choose <em>Use my browser setting</em>, enter
    <code>{escape(ctx.codec_url)}</code>, tick <em>Include cross-origin credentials</em> and apply.</li>
  <li>Open the waiting workflow; its <em>User Metadata</em> tab shows the request and the JSON to send.</li>
  <li><em>More Actions</em> → <em>Send an Update</em> <code>decide</code> (or <em>Send a Signal</em>
    <code>approve</code> / <code>reject</code>) and paste that JSON. No name to type: this service signs the
    answer as you.</li>
</ol>
<form method="post" action="/logout">
  <input type="hidden" name="csrf" value="{escape(ctx.csrf)}">
  <button type="submit" class="secondary">Log out</button>
</form>"""
