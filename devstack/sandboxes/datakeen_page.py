"""The Datakeen sandbox's session page (standing in for the user and the reviewer) and its 404 page.

Placeholders (``__NAME__``) are filled by ``pages.render``, which HTML-escapes the values.
"""

from __future__ import annotations

from devstack.sandboxes.base import iso_seconds
from devstack.sandboxes.datakeen_analysis import VERIFY
from devstack.sandboxes.datakeen_state import DEFAULT_BIRTH_DATE, Session
from devstack.sandboxes.pages import page, render

__all__ = ["NOT_FOUND_PAGE", "SESSION_PAGE", "session_page"]

#: Datakeen's own rules, after pages.BASE_STYLE.
_STYLE = """
  :root { --accent: #0b7a75; }
  main { width: min(30rem, 100% - 2rem); }
  .muted { overflow-wrap: anywhere; }
  input[type=date] { font: inherit; padding: .3rem .5rem; border: 1px solid #8888; border-radius: 6px; }
  .buttons { grid-template-columns: 1fr 1fr; }
  #approved { background: var(--ok); }
  #rejected { background: var(--ko); }
  #review { background: var(--warn); }
  #abandon { background: #666; }
  #step { font-weight: 600; margin: 0 0 1rem; }
  #status { margin: 1rem 0 0; padding: .6rem; border-radius: 6px; background: #8882; font-weight: 600; }
"""

SESSION_PAGE = page(
    "Datakeen IDify sandbox",
    style=_STYLE,
    body_attributes={"data-status": "__STATUS__", "data-allowed": "__ALLOWED__", "data-review": "__REVIEW__"},
    body="""<main>
  <h1>Datakeen IDify sandbox</h1>
  <p class="muted">Stands in for Datakeen's IDify screens (identity document, selfie) and back office.
  Session <span id="session-id">__ID__</span></p>
  <dl>
    <dt>Expires at</dt><dd id="expires-at">__EXPIRES_AT__</dd>
  </dl>
  <p id="step">The user's capture: choose how the analysis ends.</p>
  <label id="birth-date-field">Birth date on the document
    <input id="birth-date" type="date" value="__BIRTH_DATE__" min="1900-01-01"></label>
  <label><input id="send-webhook" type="checkbox" checked> Send the webhooks</label>
  <div class="buttons">
    <button id="approved" type="button">Approved</button>
    <button id="rejected" type="button">Rejected</button>
    <button id="review" type="button">Manual review</button>
    <button id="abandon" type="button">Abandon</button>
  </div>
  <p id="status" data-status="__STATUS__">__STATUS_TEXT__</p>
  <p id="message" role="alert"></p>
  <p><a id="return-link" href="__CALLBACK_URL__" hidden>Return to the site</a></p>
</main>
<script>
"use strict";
(function () {
  var ids = ["approved", "rejected", "review", "abandon"];
  var buttons = ids.map(function (id) { return document.getElementById(id); });
  var statusEl = document.getElementById("status");
  var message = document.getElementById("message");
  var webhook = document.getElementById("send-webhook");
  var birthDate = document.getElementById("birth-date");
  var returnLink = document.getElementById("return-link");
  var reviewing = document.body.dataset.review === "true";

  // In review the page is the back office: only the reviewer's approve and reject remain.
  function show(allowed, status) {
    reviewing = status === "verify";
    document.getElementById("step").textContent = reviewing
      ? "Back office: the analysis needs a manual review. Decide as the reviewer."
      : "The user's capture: choose how the analysis ends.";
    document.getElementById("birth-date-field").hidden = reviewing || status !== "pending";
    buttons.forEach(function (b) {
      b.hidden = reviewing && (b.id === "review" || b.id === "abandon");
      b.disabled = allowed.indexOf(b.id) < 0;
    });
    returnLink.hidden = !returnLink.getAttribute("href") || status === "pending";
  }

  function allowedAfter(status, outcome) {
    if (outcome === "abandon") { return []; }
    if (status === "pending") { return ids.slice(); }
    if (status === "verify") { return ["approved", "rejected"]; }
    return [];
  }

  function send(outcome) {
    var body = { outcome: outcome, webhook: webhook.checked };
    if (!reviewing && outcome !== "abandon" && birthDate.value) { body.birth_date = birthDate.value; }
    buttons.forEach(function (b) { b.disabled = true; });
    message.textContent = "";
    fetch(window.location.href, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().then(function (data) { return { status: res.status, data: data }; });
    }).then(function (r) {
      if (r.status === 200) {
        var status = r.data.data.sessionStatus;
        statusEl.textContent = status + (outcome === "abandon" ? " (abandoned by the user)" : "");
        statusEl.dataset.status = status;
        show(allowedAfter(status, outcome), status);
        return;
      }
      message.textContent = r.data.message || "Request failed";
      // 400: fix the birth date and retry; 404 (expired) and 409 (already set) are final.
      show(r.status === 400 ? allowedAfter(statusEl.dataset.status, null) : [], statusEl.dataset.status);
    }).catch(function () {
      message.textContent = "Network error";
      show(allowedAfter(statusEl.dataset.status, null), statusEl.dataset.status);
    });
  }

  buttons.forEach(function (b) { b.addEventListener("click", function () { send(b.id); }); });
  var initial = document.body.dataset.allowed;
  show(initial ? initial.split(" ") : [], document.body.dataset.status);
})();
</script>
""",
)

NOT_FOUND_PAGE = page(
    "Datakeen IDify sandbox",
    style=_STYLE,
    body="""<main>
  <h1>Datakeen IDify sandbox</h1>
  <p id="not-found">This session is unknown or has expired (a session lasts one hour).
  Start a new verification from the site you came from.</p>
</main>
""",
)


def session_page(session: Session, now: float) -> str:
    """The session's page as it stands at ``now`` (the caller holds the sandbox's lock)."""
    current = session.current(now)
    values = {
        "__STATUS__": current,
        "__STATUS_TEXT__": current + (" (abandoned by the user)" if session.abandoned else ""),
        "__ALLOWED__": " ".join(session.allowed(now)),
        "__REVIEW__": "true" if current == VERIFY else "false",
        "__EXPIRES_AT__": iso_seconds(session.expires_at),
        "__ID__": session.session_id,
        "__CALLBACK_URL__": session.callback_url or "",
        "__BIRTH_DATE__": (session.birth_date or DEFAULT_BIRTH_DATE).isoformat(),
    }
    return render(SESSION_PAGE, values)
