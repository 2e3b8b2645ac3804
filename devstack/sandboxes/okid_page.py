"""The okID sandbox's portal page (standing in for the user) and its 404 page.

Placeholders (``__NAME__``) are filled by ``pages.render``, which HTML-escapes the values.
"""

from __future__ import annotations

import segno

from devstack.sandboxes.base import iso_seconds
from devstack.sandboxes.okid_state import Verification
from devstack.sandboxes.pages import page, render

__all__ = ["NOT_FOUND_PAGE", "PORTAL_PAGE", "portal_page"]

#: okID's own rules, after pages.BASE_STYLE.
_STYLE = """
  :root { --accent: #2f6fde; }
  main { width: min(30rem, 100% - 2rem); }
  .muted { overflow-wrap: anywhere; }
  #select-mode { margin: 0 0 1rem; padding: .75rem; border: 1px dashed #8888; border-radius: 8px; }
  #select-mode img { display: block; margin: .5rem auto; background: #fff; }
  .buttons { grid-template-columns: 1fr 1fr; }
  #verified { background: var(--ok); }
  #rejected { background: var(--ko); }
  #needs_manual_review { background: var(--warn); }
  #abandon { background: #666; }
  #status { margin: 1rem 0 0; padding: .6rem; border-radius: 6px; background: #8882; font-weight: 600; }
"""

PORTAL_PAGE = page(
    "okID sandbox",
    style=_STYLE,
    body_attributes={"data-status": "__STATUS__", "data-allowed": "__ALLOWED__"},
    body="""<main>
  <h1>okID sandbox</h1>
  <p class="muted">Stands in for okID's verification portal (terms, document, liveness).
  Verification <span id="verification-id">__ID__</span></p>
  <section id="select-mode"__SELECT_HIDDEN__>
    <p>Choose how to continue: scan this QR code with your phone, or continue on this device.</p>
    <img id="qr" alt="QR code of this verification" src="__QR__">
    <a id="same-device" href="__DIRECT_URL__">Continue on this device</a>
  </section>
  <dl>
    <dt>Expires at</dt><dd id="expires-at">__EXPIRES_AT__</dd>
  </dl>
  <label><input id="send-webhook" type="checkbox" checked> Send the webhook</label>
  <div class="buttons">
    <button id="verified" type="button">Verified</button>
    <button id="rejected" type="button">Rejected</button>
    <button id="needs_manual_review" type="button">Needs manual review</button>
    <button id="abandon" type="button">Abandon</button>
  </div>
  <p id="status" data-status="__STATUS__">__STATUS_TEXT__</p>
  <p id="message" role="alert"></p>
  <p><a id="return-link" href="__RETURN_URL__" hidden>Return to the site</a></p>
</main>
<script>
"use strict";
(function () {
  var ids = ["verified", "rejected", "needs_manual_review", "abandon"];
  var buttons = ids.map(function (id) { return document.getElementById(id); });
  var statusEl = document.getElementById("status");
  var message = document.getElementById("message");
  var webhook = document.getElementById("send-webhook");
  var returnLink = document.getElementById("return-link");

  function allow(allowed) {
    buttons.forEach(function (b) { b.disabled = allowed.indexOf(b.id) < 0; });
    var done = allowed.length === 0 || allowed.indexOf("abandon") < 0;
    returnLink.hidden = !returnLink.getAttribute("href") || !done;
  }

  function allowedAfter(status, outcome) {
    if (outcome === "abandon") { return []; }
    if (status === "pending") { return ids.slice(); }
    if (status === "needs_manual_review") { return ["verified", "rejected"]; }
    return [];
  }

  function send(outcome) {
    allow([]);
    message.textContent = "";
    fetch(window.location.href, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ outcome: outcome, webhook: webhook.checked })
    }).then(function (res) {
      return res.json().then(function (data) { return { status: res.status, data: data }; });
    }).then(function (r) {
      if (r.status === 200) {
        statusEl.textContent = r.data.status + (outcome === "abandon" ? " (abandoned by the user)" : "");
        statusEl.dataset.status = r.data.status;
        allow(allowedAfter(r.data.status, outcome));
        return;
      }
      message.textContent = r.data.message || r.data.error || "Request failed";
    }).catch(function () {
      message.textContent = "Network error";
      allow(allowedAfter(statusEl.dataset.status, null));
    });
  }

  buttons.forEach(function (b) { b.addEventListener("click", function () { send(b.id); }); });
  var initial = document.body.dataset.allowed;
  allow(initial ? initial.split(" ") : []);
})();
</script>
""",
)

NOT_FOUND_PAGE = page(
    "okID sandbox",
    style=_STYLE,
    body="""<main>
  <h1>okID sandbox</h1>
  <p id="not-found">This verification is unknown or has expired.
  Start a new verification from the site you came from.</p>
</main>
""",
)


def portal_page(verification: Verification, now: float, direct_url: str, *, select: bool) -> str:
    """The verification's portal page at ``now``; with ``select``, the choice of a QR code to
    ``direct_url`` (the page on another device) or this device. Call with the sandbox's lock held."""
    current = verification.current(now)
    values = {
        "__STATUS__": current,
        "__STATUS_TEXT__": current + (" (abandoned by the user)" if verification.abandoned else ""),
        "__ALLOWED__": " ".join(verification.allowed_outcomes(now)),
        "__EXPIRES_AT__": iso_seconds(verification.expires_at),
        "__ID__": verification.verification_id,
        "__RETURN_URL__": verification.return_url or "",
        "__SELECT_HIDDEN__": "" if select else " hidden",
        "__QR__": segno.make(direct_url, error="m").svg_data_uri(scale=4) if select else "data:,",
        "__DIRECT_URL__": direct_url,
    }
    return render(PORTAL_PAGE, values)
