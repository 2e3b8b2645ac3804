/*
 * idgate demo: the providers a publishable key may use, and the form of each one's options.
 *
 * Providers come from GET /v1/providers: { providers: [{ name, title, uses_email, options, checks }],
 * checks: { <check>: <options schema> } }, where `options` is the JSON schema of the provider's options.
 * The form is built from it, so a provider added to the deployment appears here with no change to this
 * page; each check is offered as "any provider" too (`check` set: the session is `"provider": "auto"`).
 *
 * Apart from app.js because building a form from a JSON schema is its own job: app.js only asks
 * `providers` for the chosen one and `readOptions` for what was typed.
 *
 * Plain ES2020, no framework, no build step.
 */
"use strict";

let providers = new Map(); // name -> { name, title, uses_email, options, check? }

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
