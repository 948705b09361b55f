// The page the reset email links to: PASSWORD_RESET_URL?token=<token>.
import { API_BASE, appUrl } from "./config.js";
import { ApiError, send } from "./http.js";
import { $, clearErrors, showError } from "./ui.js";

const form = $("#reset-form");
const token = new URLSearchParams(window.location.search).get("token");
for (const link of document.querySelectorAll("a.home")) {
  link.href = appUrl(link.getAttribute("href"));
}
if (!token) {
  $("#no-token").hidden = false;
  form.querySelector("button").disabled = true;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  const { password, confirm } = form.elements;
  if (password.value !== confirm.value) {
    // Checked here only: the API takes one password.
    showError(form, fieldProblem("confirm", "The two passwords differ."));
    return;
  }
  try {
    await send(`${API_BASE}/auth/password-reset/confirm`, {
      method: "POST",
      body: { token, password: password.value },
    });
    form.reset();
    form.querySelector("button").disabled = true;
    $(".form-ok", form).textContent =
      "Your password is changed and every login has been signed out. Sign in with the new one.";
  } catch (error) {
    showError(form, error);
    if (error instanceof ApiError && error.status === 400) {
      $(".form-error", form).textContent =
        "This reset link is invalid, used or expired. Request a new one.";
    }
  }
});

function fieldProblem(field, message) {
  const response = new Response(null, { status: 422, statusText: "Unprocessable Entity" });
  return new ApiError(response, {
    title: "Unprocessable Entity",
    detail: "Check the highlighted field.",
    errors: { form: { [field]: [message] } },
  });
}
