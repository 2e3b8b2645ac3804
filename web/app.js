/*
 * idgate demo: the browser side of an identity verification.
 *
 *   1. POST /v1/sessions            (Authorization: Bearer <publishable key>)  -> id, client_secret, QR, link
 *   2. GET  /v1/sessions/{id}       (X-Client-Secret)  every 2 s until the status is final
 *   3. POST /v1/sessions/{id}/pin   (X-Client-Secret)  when the status is awaiting_pin
 *
 * The client secret only lives in this page's memory (the `current` object below): it is never
 * logged, put in a URL, or stored. Your server should still confirm the final result with its
 * secret key before trusting it; the browser only shows it.
 *
 * This script is the session's flow: starting it, following it, the PIN. index.html loads before it, in
 * order, api.js (calling the API, showing its errors), providers.js (the providers and their options'
 * forms) and session-view.js (drawing a session and its result); webhooks.js, the third card, after.
 *
 * Plain ES2020, no framework, no build step.
 */
"use strict";

const POLL_INTERVAL_MS = 2000; // normal delay between two status checks
const MAX_BACKOFF_MS = 30000; // longest delay when the API keeps failing
const FINAL_STATUSES = new Set(["approved", "declined", "expired", "error"]);
// Errors that retrying will not fix: stop polling on them.
const FATAL_HTTP_STATUSES = new Set([400, 401, 403, 404]);

// ---------------------------------------------------------------------------------------------
// The current session: { id, clientSecret, timer, failures, done }. Memory only.

let current = null;

function stopPolling(run) {
  if (run && run.timer !== null) {
    clearTimeout(run.timer);
    run.timer = null;
  }
}

function schedulePoll(run, delayMs) {
  stopPolling(run);
  if (!run.done) {
    run.timer = setTimeout(() => poll(run), delayMs);
  }
}

async function poll(run) {
  run.timer = null;
  try {
    const session = await callApi("GET", `/v1/sessions/${encodeURIComponent(run.id)}`, {
      headers: { "X-Client-Secret": run.clientSecret },
    });
    if (run !== current) return; // a newer session was started meanwhile
    run.failures = 0;
    clearError("poll");
    render(run, session);
    schedulePoll(run, POLL_INTERVAL_MS); // does nothing once the status is final
  } catch (error) {
    if (run !== current) return;
    showError(error, "poll");
    if (FATAL_HTTP_STATUSES.has(error.httpStatus)) {
      run.done = true; // a wrong secret or unknown session will not fix itself
      return;
    }
    // Network trouble, throttling (429) or a server error: back off exponentially, then retry.
    run.failures += 1;
    schedulePoll(run, Math.min(POLL_INTERVAL_MS * 2 ** run.failures, MAX_BACKOFF_MS));
  }
}

// ---------------------------------------------------------------------------------------------
// What a session's answer changes on the page (the drawing is session-view.js's).

function render(run, session) {
  const status = String(session.status);
  const statusEl = $("status");
  statusEl.textContent = status; // exactly the status string
  statusEl.dataset.status = status;
  // The deadline moves when the session waits for a PIN or a reviewer.
  showExpiry(session.expires_at);

  const pinForm = $("pin-form");
  const wasHidden = pinForm.hidden;
  pinForm.hidden = status !== "awaiting_pin";
  if (!pinForm.hidden && wasHidden) {
    $("pin").focus();
  }

  if (FINAL_STATUSES.has(status)) {
    run.done = true;
    stopPolling(run);
    renderResult(status, session.result);
  }
}

// ---------------------------------------------------------------------------------------------
// Form handlers

async function onStart(event) {
  event.preventDefault();
  clearError();

  const key = $("publishable-key").value.trim();
  if (key === "") {
    showError(new InputError("Enter a publishable key (pk_...)."));
    return;
  }
  const provider = providers.get($("provider").value);
  if (!provider) {
    showError(new InputError("No provider to start a verification with: check the publishable key."));
    return;
  }
  let body;
  try {
    body = provider.check
      ? { provider: "auto", check: provider.check, options: readOptions(provider) }
      : { provider: provider.name, options: readOptions(provider) };
    const email = $("email").value.trim();
    if (provider.uses_email && email !== "") {
      if (!$("email").checkValidity()) {
        throw new InputError("The email address is not valid.");
      }
      body.email = email;
    }
  } catch (error) {
    showError(error);
    return;
  }
  const reference = $("reference").value.trim();
  if (reference !== "") {
    body.reference = reference;
  }

  // Forget the previous session, if any.
  if (current) {
    current.done = true;
    stopPolling(current);
    current = null;
  }

  const start = $("start");
  start.disabled = true;
  try {
    const created = await callApi("POST", "/v1/sessions", {
      headers: { Authorization: `Bearer ${key}` },
      body,
    });
    const run = { id: created.id, clientSecret: created.client_secret, timer: null, failures: 0, done: false };
    current = run;
    showSession(created);
    render(run, created);
    schedulePoll(run, POLL_INTERVAL_MS);
  } catch (error) {
    showError(error);
  } finally {
    start.disabled = false;
  }
}

async function onSubmitPin(event) {
  event.preventDefault();
  const run = current;
  if (!run) return;
  const pin = $("pin").value.trim();
  if (!/^[0-9]{6}$/.test(pin)) {
    showError({ message: "The PIN is the 6 digits from the email.", code: "invalid_pin" }, "pin");
    return;
  }
  clearError("pin");

  const button = $("submit-pin");
  button.disabled = true;
  try {
    const session = await callApi("POST", `/v1/sessions/${encodeURIComponent(run.id)}/pin`, {
      headers: { "X-Client-Secret": run.clientSecret },
      body: { pin },
    });
    if (run !== current) return;
    $("pin").value = "";
    render(run, session); // approved
    if (session && session.error) {
      showError(new ApiError(200, session), "pin"); // in case an API version answers 200 with an error
    }
  } catch (error) {
    if (run !== current) return;
    // 422 pin_incorrect (tries left in the message) keeps awaiting_pin; pin_attempts_exceeded, and
    // 409 pin_expired / session_final, mean the session moved on: fetch it now instead of in 2 s.
    showError(error, "pin");
    if (error.httpStatus === 409 || error.httpStatus === 422) {
      schedulePoll(run, 0);
    }
  } finally {
    button.disabled = false;
  }
}
document.addEventListener("DOMContentLoaded", () => {
  $("start-form").addEventListener("submit", onStart);
  $("pin-form").addEventListener("submit", onSubmitPin);
  $("provider").addEventListener("change", showProviderOptions);
  $("publishable-key").addEventListener("change", loadProviders);
  loadProviders();
});
