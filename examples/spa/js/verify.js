// The page the welcome (or verification) email links to: EMAIL_VERIFY_URL?token=<token>.
// One click posts the token: opening the link alone changes nothing (mail scanners open links).
import { API_BASE, appUrl } from "./config.js";
import { ApiError, send } from "./http.js";
import { $, clearErrors, showError } from "./ui.js";

const form = $("#verify-form");
const token = new URLSearchParams(window.location.search).get("token");
for (const link of document.querySelectorAll("a.home")) {
  link.href = appUrl(link.getAttribute("href"));
}
if (!token) {
  $("#no-verify-token").hidden = false;
  form.querySelector("button").disabled = true;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  try {
    await send(`${API_BASE}/auth/verify-email`, { method: "POST", body: { token } });
    form.querySelector("button").disabled = true;
    $(".form-ok", form).textContent = "Your email address is verified.";
  } catch (error) {
    showError(form, error);
    if (error instanceof ApiError && error.status === 400) {
      $(".form-error", form).textContent =
        "This verification link is invalid, used, expired or for another address. " +
        "Sign in and ask for a new one.";
    }
  }
});
