"""The Jekimo sandbox's login page (standing in for the phone app) and its 404 page.

Placeholders (``__NAME__``) are filled by ``pages.render``, which HTML-escapes the values.
"""

from __future__ import annotations

from devstack.sandboxes.pages import page

__all__ = ["LOGIN_PAGE", "NOT_FOUND_PAGE"]

#: Jekimo's own rules, after pages.BASE_STYLE.
_STYLE = """
  :root { --accent: #5b4bdb; }
  main { width: min(28rem, 100% - 2rem); }
  input { font: inherit; padding: .4rem .6rem; width: 100%; border: 1px solid #8888; border-radius: 6px; }
  #approve { background: var(--ok); }
  #approve-risk { background: var(--warn); }
  #decline { background: var(--ko); }
  #state { margin: 1rem 0 0; padding: .6rem; border-radius: 6px; background: #8882; font-weight: 600; }
"""

LOGIN_PAGE = page(
    "Jekimo sandbox",
    style=_STYLE,
    body_attributes={
        "data-two-factor": "__TWO_FACTOR_FLAG__",
        "data-expires-in": "__EXPIRES_IN__",
        "data-answer": "__ANSWER__",
    },
    body="""<main>
  <h1>Jekimo sandbox</h1>
  <p class="muted">Stands in for the Jekimo phone app. Token __TOKEN_SHORT__&hellip;</p>
  <dl>
    <dt>Minimum age</dt><dd id="min-age">__MIN_AGE__</dd>
    <dt>Two-factor PIN</dt><dd id="two-factor">__TWO_FACTOR__</dd>
    <dt>Valid for</dt><dd><span id="expires-in">__EXPIRES_IN__</span> s</dd>
  </dl>
  <label id="pin-field" hidden>PIN sent when risk is flagged (optional, 6 digits; random if empty)
    <input id="pin" inputmode="numeric" pattern="[1-9][0-9]{5}" maxlength="6" autocomplete="off">
  </label>
  <div class="buttons">
    <button id="approve" type="button">Approve</button>
    <button id="approve-risk" type="button">Approve with risk</button>
    <button id="decline" type="button">Decline</button>
  </div>
  <p id="state" data-status="created">created</p>
  <p id="message" role="alert"></p>
</main>
<script>
"use strict";
(function () {
  var body = document.body;
  var twoFactor = body.dataset.twoFactor === "true";
  var buttons = ["approve", "approve-risk", "decline"].map(function (id) {
    return document.getElementById(id);
  });
  var pinInput = document.getElementById("pin");
  var stateEl = document.getElementById("state");
  var message = document.getElementById("message");
  var remaining = parseInt(body.dataset.expiresIn, 10);
  var decided = false;

  document.getElementById("pin-field").hidden = !twoFactor;

  function setEnabled(enabled) {
    buttons.forEach(function (b) { b.disabled = !enabled; });
  }

  // Show what /auth/check now answers: {"status", "risk", "pin"}.
  function showState(answer) {
    decided = answer.status !== "created";
    var text = answer.status;
    if (decided) {
      // The sandbox may be set to answer no risk at all (--jekimo-without-risk).
      var risk = answer.risk === undefined ? "not said" : answer.risk;
      text += " \\u00b7 risk: " + risk + " \\u00b7 pin: " + (answer.pin || "none");
    }
    stateEl.textContent = text;
    stateEl.dataset.status = answer.status;
    setEnabled(!decided && remaining > 0);
  }

  function send(outcome) {
    setEnabled(false);
    message.textContent = "";
    fetch(window.location.href, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(outcome)
    }).then(function (res) {
      return res.json().then(function (data) { return { status: res.status, data: data }; });
    }).then(function (r) {
      if (r.status === 200) { showState(r.data); return; }
      message.textContent = r.data.error || "Request failed";
      // 400: fix the PIN and retry; 404 (expired) and 409 (already decided) are final.
      setEnabled(r.status === 400 && !decided && remaining > 0);
    }).catch(function () {
      message.textContent = "Network error";
      setEnabled(true);
    });
  }

  function withPin(outcome) {
    var pin = pinInput.value.trim();
    if (twoFactor && pin) { outcome.pin = pin; }
    return outcome;
  }

  buttons[0].addEventListener("click", function () { send({ outcome: "approved" }); });
  buttons[1].addEventListener("click", function () { send(withPin({ outcome: "approved", risk: true })); });
  buttons[2].addEventListener("click", function () { send(withPin({ outcome: "declined" })); });

  showState(JSON.parse(body.dataset.answer));

  var countdown = document.getElementById("expires-in");
  var timer = setInterval(function () {
    remaining = Math.max(0, remaining - 1);
    countdown.textContent = String(remaining);
    if (remaining === 0) {
      clearInterval(timer);
      setEnabled(false);
      if (!decided) { stateEl.textContent = "expired"; stateEl.dataset.status = "expired"; }
    }
  }, 1000);
})();
</script>
""",
)

NOT_FOUND_PAGE = page(
    "Jekimo sandbox",
    style=_STYLE,
    body="""<main>
  <h1>Jekimo sandbox</h1>
  <p id="not-found">This login link is unknown or has expired (tokens are valid for a short time).
  Start a new verification from the site you came from.</p>
</main>
""",
)
