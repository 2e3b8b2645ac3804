/*
 * idgate demo: calling the idgate API, and showing its errors.
 *
 * Loaded first (see index.html): the other scripts use `$`, `callApi`, the error classes and
 * `showError`/`clearError` defined here. Apart because every card of the page talks to the API the same
 * way and reports its problems in the same place.
 *
 * Plain ES2020, no framework, no build step.
 */
"use strict";

// Where the idgate API lives. "" means the same origin as this page (the local stack serves both).
const API_BASE = "";

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
