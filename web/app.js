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
 * Plain ES2020, no framework, no build step.
 */
"use strict";

// Where the idgate API lives. "" means the same origin as this page (the local stack serves both).
const API_BASE = "";

const POLL_INTERVAL_MS = 2000; // normal delay between two status checks
const MAX_BACKOFF_MS = 30000; // longest delay when the API keeps failing
const FINAL_STATUSES = new Set(["approved", "declined", "expired", "error"]);
// Errors that retrying will not fix: stop polling on them.
const FATAL_HTTP_STATUSES = new Set([400, 401, 403, 404]);

/*
 * Providers come from GET /v1/providers: { providers: [{ name, title, uses_email, options, checks }],
 * checks: { <check>: <options schema> } }, where `options` is the JSON schema of the provider's options.
 * The form is built from it, so a provider added to the deployment appears here with no change to this
 * page; each check is offered as "any provider" too (`check` set: the session is `"provider": "auto"`).
 */
let providers = new Map(); // name -> { name, title, uses_email, options, check? }

// ---------------------------------------------------------------------------------------------
// Small helpers

function $(id) {
  return document.getElementById(id);
}

/** A problem with what was typed in the form (shown like an API error). */
class InputError extends Error {
  constructor(message) {
    super(message);
    this.code = "invalid_input";
  }
}

/**
 * An error answer from the API. idgate answers {"error": {"code", "message", ...}} (with `fields` on a
 * validation_error, `attempts_remaining` on a wrong PIN). API Gateway's own answers, given before
 * idgate runs, are {"message": "Unauthorized"} (401), {"message": "Forbidden"} (403) or
 * {"message": "Too Many Requests"} (429): they have no code, so the HTTP status stands in for it.
 */
class ApiError extends Error {
  constructor(httpStatus, body) {
    const detail = body && typeof body.error === "object" && body.error !== null ? body.error : {};
    let message = detail.message || (body && body.message) || `The API answered HTTP ${httpStatus}.`;
    if (Array.isArray(detail.fields) && detail.fields.length > 0) {
      message += " " + detail.fields.map((f) => `${f.field}: ${f.problem}.`).join(" ");
    }
    if (Number.isInteger(detail.attempts_remaining)) {
      message += ` Tries left: ${detail.attempts_remaining}.`;
    }
    super(message);
    this.httpStatus = httpStatus;
    this.code = detail.code || (httpStatus ? `http_${httpStatus}` : "network_error");
    this.body = body;
  }
}

/** Call the API with a JSON body (if any); resolve with the JSON answer, or throw an ApiError. */
async function callApi(method, path, { headers = {}, body } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API_BASE + path, init);
  } catch {
    throw new ApiError(0, { error: { code: "network_error", message: "Cannot reach the API." } });
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data);
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Errors: the message is for people, the code for developers. `source` lets a later success of
// the same kind (e.g. a good poll after a failed one) clear only its own error.

let errorSource = null;

function showError(error, source = "form") {
  const message = error && error.message ? error.message : String(error);
  const code = error && error.code ? error.code : "unknown_error";
  const box = $("error");
  box.textContent = `${message} (${code})`;
  box.hidden = false;
  errorSource = source;
}

function clearError(source) {
  if (source === undefined || source === errorSource) {
    $("error").textContent = "";
    $("error").hidden = true;
    errorSource = null;
  }
}

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
// Rendering. API data is always written with textContent, never as HTML.

function showExpiry(expiresAt) {
  const expires = new Date(expiresAt);
  $("expires-at").textContent = Number.isNaN(expires.getTime()) ? "-" : expires.toLocaleTimeString();
}

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

// ---------------------------------------------------------------------------------------------
// The providers' forms, built from the JSON schema of their options.

/**
 * A property's own schema: pydantic writes an optional field as anyOf [schema, {type: null}], with the
 * field's description, default and extras (a date's `format`) beside the anyOf.
 */
function propertySchema(schema) {
  if (Array.isArray(schema.anyOf)) {
    const { anyOf, ...outer } = schema;
    return { ...anyOf.find((s) => s.type !== "null"), ...outer };
  }
  return schema;
}

function fieldId(provider, property) {
  return `${provider}-${property.replaceAll("_", "-")}`;
}

/** The label and input of one option. Text from the API is always set as text, never as HTML. */
function optionField(provider, property, rawSchema) {
  const schema = propertySchema(rawSchema);
  const id = fieldId(provider, property);
  const wrapper = document.createElement("div");
  wrapper.className = "option";
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = rawSchema.title || property;
  let input;
  if (schema.type === "boolean") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.checked = schema.default === true;
    label.className = "check";
    label.prepend(input, " ");
  } else if (Array.isArray(schema.enum)) {
    input = document.createElement("select");
    for (const value of schema.enum) {
      const option = document.createElement("option");
      option.value = option.textContent = String(value);
      option.selected = value === schema.default;
      input.append(option);
    }
  } else {
    input = document.createElement("input");
    if (schema.type === "integer") {
      Object.assign(input, { type: "number", step: "1", inputMode: "numeric" });
      if (schema.minimum !== undefined) input.min = String(schema.minimum);
      if (schema.maximum !== undefined) input.max = String(schema.maximum);
    } else {
      input.type = schema.format === "date" ? "date" : "text";
      if (schema.maxLength !== undefined) input.maxLength = schema.maxLength;
      input.autocomplete = "off";
    }
    const optional = document.createElement("span");
    optional.className = "muted";
    optional.textContent = " (optional)";
    label.append(optional);
  }
  input.id = id;
  input.dataset.option = property;
  input.dataset.type = Array.isArray(schema.enum) ? "enum" : schema.type || "string";
  wrapper.append(label);
  if (input.type !== "checkbox") wrapper.append(input);
  if (schema.description) {
    const help = document.createElement("p");
    help.className = "muted help";
    help.textContent = schema.description;
    wrapper.append(help);
  }
  return wrapper;
}

function providerFieldset(provider) {
  const fieldset = document.createElement("fieldset");
  fieldset.dataset.provider = provider.name;
  const legend = document.createElement("legend");
  legend.textContent = `${provider.title}: options`;
  fieldset.append(legend);
  for (const [property, schema] of Object.entries(provider.options.properties || {})) {
    fieldset.append(optionField(provider.name, property, schema));
  }
  return fieldset;
}

/** The options typed in the selected provider's fieldset: empty fields are left out. */
function readOptions(provider) {
  const options = {};
  const fieldset = document.querySelector(`fieldset[data-provider="${CSS.escape(provider.name)}"]`);
  for (const input of fieldset.querySelectorAll("[data-option]")) {
    const name = input.dataset.option;
    if (input.dataset.type === "boolean") {
      if (input.checked) options[name] = true;
      continue;
    }
    const value = input.value.trim();
    if (input.dataset.type === "integer") {
      if (input.validity.badInput || value !== "") {
        const number = Number(value);
        const min = input.min === "" ? -Infinity : Number(input.min);
        const max = input.max === "" ? Infinity : Number(input.max);
        if (input.validity.badInput || !Number.isInteger(number) || number < min || number > max) {
          throw new InputError(`${name} must be a whole number from ${input.min} to ${input.max}.`);
        }
        options[name] = number;
      }
    } else if (value !== "") {
      options[name] = value;
    }
  }
  return options;
}

/** Loads the providers with the publishable key and builds their forms. */
async function loadProviders() {
  const select = $("provider");
  const key = $("publishable-key").value.trim();
  select.disabled = true;
  try {
    const answer = await callApi("GET", "/v1/providers", { headers: { Authorization: `Bearer ${key}` } });
    providers = new Map(answer.providers.map((provider) => [provider.name, provider]));
    // "Any provider" for each check: idgate chooses by the routing policy (GET /v1/routing).
    for (const [check, options] of Object.entries(answer.checks || {})) {
      const name = `auto-${check}`;
      providers.set(name, { name, title: `Any provider: ${check} check`, uses_email: false, options, check });
    }
    clearError("providers");
  } catch (error) {
    providers = new Map();
    showError(error, "providers");
  }
  const previous = select.value;
  select.replaceChildren();
  const container = $("provider-options");
  container.replaceChildren();
  for (const provider of providers.values()) {
    const option = document.createElement("option");
    option.value = provider.name;
    option.textContent = provider.title;
    select.append(option);
    container.append(providerFieldset(provider));
  }
  if (providers.has(previous)) select.value = previous;
  select.disabled = providers.size === 0;
  showProviderOptions();
}

/** Show only the selected provider's options (disabled fieldsets are skipped by the browser). */
function showProviderOptions() {
  const selected = $("provider").value;
  for (const fieldset of document.querySelectorAll("fieldset[data-provider]")) {
    const active = fieldset.dataset.provider === selected;
    fieldset.hidden = !active;
    fieldset.disabled = !active;
  }
  const provider = providers.get(selected);
  $("email-field").hidden = !(provider && provider.uses_email);
}

document.addEventListener("DOMContentLoaded", () => {
  $("start-form").addEventListener("submit", onStart);
  $("pin-form").addEventListener("submit", onSubmitPin);
  $("provider").addEventListener("change", showProviderOptions);
  $("publishable-key").addEventListener("change", loadProviders);
  loadProviders();
});
