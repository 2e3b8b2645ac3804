/*
 * idgate demo: webhooks to "your backend", with the local stack's receiver (devstack/receiver.py).
 *
 * On a real deployment your server registers its endpoint with its secret key and keeps the whsec_ secret; a
 * browser never holds either. So here the page only asks the local receiver (same origin, /_devstack/receiver)
 * to register itself, to fail or not, and shows what it received: each delivery's type, session, try number,
 * the receiver's answer, and whether its signature verified (the receiver checks it with the standardwebhooks
 * package). The card stays hidden where there is no local receiver.
 *
 * Plain ES2020, no framework, no build step.
 */
"use strict";

const RECEIVER = "/_devstack/receiver";
const RECEIVER_POLL_MS = 2000;

function hooksEl(id) {
  return document.getElementById(id);
}

async function receiverCall(method, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(RECEIVER, init);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.message || `HTTP ${response.status}`);
  return answer;
}

function renderReceiver(state) {
  hooksEl("hooks-register").hidden = state.registered;
  hooksEl("hooks-registered").hidden = !state.registered;
  hooksEl("hooks-endpoint").textContent = state.endpoint_id || "";
  hooksEl("hooks-url").textContent = state.url;
  hooksEl("hooks-failing").checked = state.failing;
  const rows = hooksEl("hooks-deliveries");
  rows.replaceChildren();
  for (const delivery of state.deliveries) {
    const row = document.createElement("tr");
    row.dataset.session = delivery.session_id || "";
    row.dataset.type = delivery.type || "";
    row.dataset.verified = String(delivery.verified);
    row.dataset.answered = String(delivery.answered);
    const verified =
      delivery.verified === true ? "verified" : delivery.verified === false ? "BAD signature" : "not checked";
    const cells = [
      delivery.received_at.slice(11, 19),
      delivery.type,
      `${delivery.session_id || ""} ${delivery.status || ""}`,
      `#${delivery.try}`,
      String(delivery.answered),
      `${verified}${delivery.signatures > 1 ? ` (${delivery.signatures} signatures)` : ""}`,
    ];
    for (const text of cells) {
      const cell = document.createElement("td");
      cell.textContent = text; // never innerHTML: the body is another program's
      row.append(cell);
    }
    rows.append(row);
  }
  hooksEl("hooks-empty").hidden = state.deliveries.length > 0;
}

async function refreshReceiver() {
  try {
    renderReceiver(await receiverCall("GET"));
    hooksEl("hooks-error").hidden = true;
  } catch (error) {
    hooksEl("hooks-error").textContent = `Receiver: ${error.message}`;
    hooksEl("hooks-error").hidden = false;
  }
}

async function startWebhooks() {
  let state;
  try {
    state = await receiverCall("GET");
  } catch {
    return; // no local receiver (a deployed page): the card stays hidden
  }
  hooksEl("webhooks").hidden = false;
  renderReceiver(state);
  hooksEl("hooks-register").addEventListener("click", async () => {
    try {
      renderReceiver(await receiverCall("POST", { register: true }));
    } catch (error) {
      hooksEl("hooks-error").textContent = `Receiver: ${error.message}`;
      hooksEl("hooks-error").hidden = false;
    }
  });
  hooksEl("hooks-failing").addEventListener("change", async (event) => {
    renderReceiver(await receiverCall("POST", { failing: event.target.checked }));
  });
  setInterval(refreshReceiver, RECEIVER_POLL_MS);
}

document.addEventListener("DOMContentLoaded", startWebhooks);
