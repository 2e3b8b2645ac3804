"""The FACEKI sandbox's hosted KYC page (standing in for the user and the dashboard's reviewer) and its 404.

Placeholders (``__NAME__``) are filled by ``pages.render``, which HTML-escapes the values. The decline
codes' options are built here once from constants, so they are not placeholders.
"""

from __future__ import annotations

import html

from devstack.sandboxes.base import iso_seconds
from devstack.sandboxes.faceki_records import DECLINE_CODES, DEFAULT_DECLINE_CODE, DOCUMENTS, Link
from devstack.sandboxes.pages import page, render

__all__ = ["LINK_PAGE", "NOT_FOUND_PAGE", "link_page"]

#: The buttons the page enables: the user's while the link awaits the capture, then the reviewer's.
USER_BUTTONS = "faceki-accept faceki-decline faceki-review faceki-abandon"
REVIEWER_BUTTONS = "faceki-reviewer-accept faceki-reviewer-decline"

#: FACEKI's own rules, after pages.BASE_STYLE.
_STYLE = """
  :root { --accent: #3b4cca; }
  main { width: min(32rem, 100% - 2rem); }
  .muted { overflow-wrap: anywhere; }
  select { font: inherit; padding: .3rem .5rem; border: 1px solid #8888; border-radius: 6px; }
  .buttons { grid-template-columns: 1fr 1fr; margin: 0 0 1rem; }
  #faceki-accept, #faceki-reviewer-accept { background: var(--ok); }
  #faceki-decline, #faceki-reviewer-decline { background: var(--ko); }
  #faceki-review { background: var(--warn); }
  #faceki-abandon { background: #666; }
  h2 { font-size: 1rem; margin: 0 0 .5rem; }
  #faceki-state { font-weight: 700; }
"""

_CODE_OPTIONS = "\n".join(
    f'      <option value="{code}"{" selected" if code == DEFAULT_DECLINE_CODE else ""}>'
    f"{code} {html.escape(name)}</option>"
    for code, name in DECLINE_CODES.items()
)
_DOCUMENT_OPTIONS = "\n".join(f'      <option value="{d}">{d}</option>' for d in DOCUMENTS)

LINK_PAGE = page(
    "FACEKI KYC sandbox",
    style=_STYLE,
    body_attributes={
        "data-state": "__STATE__",
        "data-allowed": "__ALLOWED__",
        "data-redirect": "__REDIRECT_URL__",
    },
    body="""<main>
  <h1>FACEKI KYC sandbox</h1>
  <p class="muted">Stands in for FACEKI's hosted verification (document and selfie capture) and for the
  reviewer on FACEKI's dashboard. Link <span id="faceki-link-id">__LINK_ID__</span></p>
  <dl>
    <dt>State</dt><dd id="faceki-state" data-state="__STATE__">__STATE__</dd>
    <dt>Response code</dt><dd id="faceki-response-code">__RESPONSE_CODE__</dd>
    <dt>Request id</dt><dd id="faceki-request-id">__REQUEST_ID__</dd>
    <dt>Application id</dt><dd id="faceki-application-id">__APPLICATION_ID__</dd>
    <dt>Expires at</dt><dd id="faceki-expires-at">__EXPIRES_AT__</dd>
    <dt>Document optional</dt><dd id="faceki-document-optional">__DOCUMENT_OPTIONAL__</dd>
    <dt>Tokens issued</dt><dd id="faceki-tokens">__TOKENS__</dd>
  </dl>
  <label>Document captured <select id="faceki-document">
__DOCUMENT_OPTIONS__
    </select></label>
  <label>Decline code <select id="faceki-code">
__CODE_OPTIONS__
    </select></label>
  <label><input id="faceki-webhook" type="checkbox" checked> Send the dashboard webhook</label>
  <section id="faceki-user">
    <h2>The user's capture</h2>
    <div class="buttons">
      <button id="faceki-accept" type="button" data-outcome="accepted">Accept</button>
      <button id="faceki-decline" type="button" data-outcome="declined">Decline</button>
      <button id="faceki-review" type="button" data-outcome="review">Review</button>
      <button id="faceki-abandon" type="button" data-outcome="abandon">Abandon</button>
    </div>
  </section>
  <section id="faceki-reviewer">
    <h2>The reviewer (FACEKI dashboard)</h2>
    <div class="buttons">
      <button id="faceki-reviewer-accept" type="button" data-outcome="accepted">Accept</button>
      <button id="faceki-reviewer-decline" type="button" data-outcome="declined">Decline</button>
    </div>
  </section>
  <p id="message" role="alert"></p>
</main>
<script>
"use strict";
(function () {
  var user = ["faceki-accept", "faceki-decline", "faceki-review", "faceki-abandon"];
  var reviewer = ["faceki-reviewer-accept", "faceki-reviewer-decline"];
  var buttons = user.concat(reviewer).map(function (id) { return document.getElementById(id); });
  var stateEl = document.getElementById("faceki-state");
  var message = document.getElementById("message");
  var webhook = document.getElementById("faceki-webhook");
  var code = document.getElementById("faceki-code");
  var documentType = document.getElementById("faceki-document");
  var redirect = document.body.dataset.redirect;
  var allowed = [];

  function show(ids, state) {
    allowed = ids;
    stateEl.textContent = state;
    stateEl.dataset.state = state;
    document.body.dataset.state = state;
    document.body.dataset.allowed = ids.join(" ");
    buttons.forEach(function (b) { b.disabled = ids.indexOf(b.id) < 0; });
    document.getElementById("faceki-user").hidden = state === "REVIEW";
    document.getElementById("faceki-reviewer").hidden = state !== "REVIEW";
  }

  function send(button) {
    var outcome = button.dataset.outcome;
    var byUser = user.indexOf(button.id) >= 0;
    var body = { outcome: outcome, webhook: webhook.checked };
    if (outcome === "declined") { body.code = parseInt(code.value, 10); }
    if (byUser && outcome !== "abandon") { body.documentType = documentType.value; }
    var before = allowed;
    show([], stateEl.dataset.state);
    message.textContent = "";
    fetch(window.location.href, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().then(function (data) { return { status: res.status, data: data }; });
    }).then(function (r) {
      if (r.status !== 200) {
        message.textContent = r.data.message || "Request failed";
        // 400: the choice can be corrected; 404, 409 and 410 are final.
        show(r.status === 400 ? before : [], stateEl.dataset.state);
        return;
      }
      var state = r.data.status;
      show(state === "REVIEW" ? reviewer.slice() : [], state);
      document.getElementById("faceki-request-id").textContent = r.data.requestId || "";
      if (r.data.requestId) {
        document.getElementById("faceki-response-code").textContent =
          outcome === "declined" ? code.options[code.selectedIndex].text : "0";
      }
      // The user's part ends as on FACEKI's page: back to the site, when it gave a redirect_url.
      if (byUser && outcome !== "abandon" && redirect) { window.location.assign(redirect); }
    }).catch(function () {
      message.textContent = "Network error";
      show(before, stateEl.dataset.state);
    });
  }

  buttons.forEach(function (b) { b.addEventListener("click", function () { send(b); }); });
  var initial = document.body.dataset.allowed;
  show(initial ? initial.split(" ") : [], document.body.dataset.state);
})();
</script>
""".replace("__CODE_OPTIONS__", _CODE_OPTIONS).replace("__DOCUMENT_OPTIONS__", _DOCUMENT_OPTIONS),
)

NOT_FOUND_PAGE = page(
    "FACEKI KYC sandbox",
    style=_STYLE,
    body="""<main>
  <h1>FACEKI KYC sandbox</h1>
  <p id="faceki-not-found">This verification link is unknown. Start a new verification from the site
  you came from.</p>
</main>
""",
)


def link_page(link: Link, now: float, tokens_issued: int) -> str:
    """The page of ``link`` at ``now``, showing how many access tokens the sandbox has issued."""
    latest = link.latest
    if link.user_may_act(now):
        allowed = USER_BUTTONS
    elif link.in_review:
        allowed = REVIEWER_BUTTONS
    else:
        allowed = ""
    response_code = ""
    if latest is not None:
        response_code = f"{latest.response_code} {DECLINE_CODES.get(latest.response_code, '')}".strip()
    values = {
        "__STATE__": link.state(now),
        "__ALLOWED__": allowed,
        "__REDIRECT_URL__": link.redirect_url or "",
        "__LINK_ID__": link.link_id,
        "__RESPONSE_CODE__": response_code,
        "__REQUEST_ID__": latest.request_id if latest is not None else "",
        "__APPLICATION_ID__": link.application_id,
        "__EXPIRES_AT__": iso_seconds(link.expires_at),
        "__DOCUMENT_OPTIONAL__": "yes" if link.document_optional else "no",
        "__TOKENS__": str(tokens_issued),
    }
    return render(LINK_PAGE, values)
