/*
 * idgate demo: showing a session (its QR code, link, expiry and routing) and its final result.
 *
 * API data is always written with textContent, never as HTML. Apart from app.js, which decides when
 * to show what (the session's flow), because this only draws.
 *
 * Plain ES2020, no framework, no build step.
 */
"use strict";

function showExpiry(expiresAt) {
  const expires = new Date(expiresAt);
  $("expires-at").textContent = Number.isNaN(expires.getTime()) ? "-" : expires.toLocaleTimeString();
}

function renderResult(status, result) {
  const box = $("result");
  box.replaceChildren();
  const title = document.createElement("h3");
  title.textContent = "Result";
  const list = document.createElement("dl");

  const decision = (result && result.decision) || status;
  addRow(list, "Decision", decision).classList.add("decision", `decision-${decision}`);
  if (result) {
    addRow(list, "Risk", result.risk === true ? "flagged" : result.risk === false ? "none" : "unknown");
    addRow(list, "Provider status", result.provider_status ?? "-");
    const reasons = Array.isArray(result.reasons) ? result.reasons : [];
    const reasonsEl = addRow(list, "Reasons", reasons.length ? "" : "none");
    for (const reason of reasons) {
      const code = document.createElement("code");
      code.textContent = String(reason);
      reasonsEl.append(code, " ");
    }
  }
  box.append(title, list);

  if (result) {
    // Everything the API returned, for developers.
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "Raw result";
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(result, null, 2);
    details.append(summary, pre);
    box.append(details);
  }
  box.hidden = false;
}

function addRow(list, label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = String(value);
  list.append(dt, dd);
  return dd;
}

/** Show a newly created session: QR code, link, expiry. Only accept safe URL schemes. */
function showSession(created) {
  const qr = $("qr");
  if (typeof created.qr_code === "string" && /^data:image\/[a-z+]+;base64,/.test(created.qr_code)) {
    qr.src = created.qr_code;
    qr.hidden = false;
  } else {
    qr.removeAttribute("src");
    qr.hidden = true;
  }

  const link = $("verification-link");
  let url = null;
  try {
    url = new URL(created.verification_url);
  } catch {
    url = null;
  }
  if (url && (url.protocol === "https:" || url.protocol === "http:")) {
    link.href = url.href;
    link.hidden = false;
  } else {
    link.removeAttribute("href");
    link.hidden = true;
  }

  $("session-id").textContent = created.id;
  showExpiry(created.expires_at);
  showRouting(created.routing);

  $("pin").value = "";
  $("result").replaceChildren();
  $("result").hidden = true;
  $("session").hidden = false;
}

/** For an "any provider" check: which provider idgate chose, and why it passed over the others. */
function showRouting(routing) {
  const box = $("routing");
  if (!routing || typeof routing.chosen !== "string") {
    box.textContent = "";
    box.hidden = true;
    return;
  }
  const tried = Array.isArray(routing.tried) ? routing.tried : [];
  const passed = tried.map((attempt) => `${attempt.provider} (${attempt.reason})`).join(", ");
  box.textContent =
    `${routing.check} check: ${routing.chosen} chosen` + (passed ? `; passed over: ${passed}` : "");
  box.hidden = false;
}
