// Showing answers: a banner for messages, problem JSON field by field next to the inputs.
import { ApiError, NetworkError } from "./http.js";

export const $ = (selector, root = document) => root.querySelector(selector);

export function banner(text, kind = "info") {
  const box = $("#banner");
  box.textContent = text;
  box.className = text ? kind : "";
}

export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
  const summary = $(".form-error", form);
  if (summary) summary.textContent = "";
}

/** Put an error on `form`: each `errors[location][field]` message under its input, the rest
 * (detail, request id, fields the form does not have) in the form's summary line. */
export function showError(form, error) {
  clearErrors(form);
  const summary = $(".form-error", form);
  if (error instanceof NetworkError) {
    summary.textContent = error.message;
    return;
  }
  if (!(error instanceof ApiError)) {
    summary.textContent = String(error?.message || error);
    return;
  }
  const problem = error.problem || {};
  const leftovers = [];
  for (const [location, fields] of Object.entries(problem.errors || {})) {
    for (const [field, messages] of Object.entries(fields)) {
      const text = [].concat(messages).join(" ");
      const input = form.elements.namedItem(field);
      if (input && input.id) {
        const note = document.createElement("p");
        note.className = "field-error";
        note.id = `${input.id}-error`;
        note.textContent = text;
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", note.id);
        input.insertAdjacentElement("afterend", note);
      } else {
        leftovers.push(`${location} ${field}: ${text}`);
      }
    }
  }
  const head = `${error.status} ${problem.title || ""}: ${problem.detail || error.message}`;
  const id = problem.request_id ? ` (request ${problem.request_id})` : "";
  summary.textContent = [head + id, ...leftovers].join(" · ");
}

/** The form's fields as an object; blank optional fields are left out. */
export function formData(form, { nullBlank = [] } = {}) {
  const data = {};
  for (const [name, value] of new FormData(form)) {
    if (value !== "") data[name] = value;
    else if (nullBlank.includes(name)) data[name] = null;
  }
  return data;
}
