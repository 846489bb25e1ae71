// What both screens share: signing in with a key, calling the service with the session
// cookie and its CSRF token, exact decimal money, and telling the person what happened.
"use strict";

const Screen = (() => {
  let cookieName = "";
  let currency = "EUR";

  function cookie(name) {
    for (const pair of document.cookie.split(";")) {
      const [key, ...value] = pair.trim().split("=");
      if (key === name) return value.join("=");
    }
    return "";
  }

  // One call to the service. The session id travels in the HttpOnly cookie; a request that
  // changes something carries the session's CSRF token (its cookie is named __Host-… over
  // HTTPS). Network failures come back as status 0.
  async function api(path, { method = "GET", body, headers = {} } = {}) {
    const sent = { ...headers };
    if (body !== undefined) sent["Content-Type"] = "application/json";
    if (method !== "GET") {
      sent["X-CSRF-Token"] = cookie(`__Host-${cookieName}_csrf`) || cookie(`${cookieName}_csrf`);
    }
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (error) {
      return { status: 0, body: { detail: "the service cannot be reached" }, headers: new Headers() };
    }
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch (error) {
      parsed = { detail: text };
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }

  // Money as exact decimals: amounts are strings from the server, held as BigInt millionths.
  const SCALE = 1000000n;
  function toMicros(amount) {
    const [whole, fraction = ""] = String(amount).split(".");
    const negative = whole.startsWith("-");
    const micros = BigInt(whole.replace("-", "") || "0") * SCALE +
      BigInt((fraction + "000000").slice(0, 6));
    return negative ? -micros : micros;
  }
  function fromMicros(micros) {
    const negative = micros < 0n;
    const size = negative ? -micros : micros;
    const fraction = (size % SCALE).toString().padStart(6, "0").replace(/0+$/, "");
    const text = `${size / SCALE}${fraction ? "." + fraction : ""}`;
    return negative ? `-${text}` : text;
  }
  // quantity × price, summed, exactly as the server's numeric arithmetic does.
  function total(lines) {
    return fromMicros(
      lines.reduce((sum, line) => sum + BigInt(line.quantity) * toMicros(line.unitPrice), 0n),
    );
  }
  function money(amount) {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(String(amount));
  }

  function say(text, kind = "info") {
    const status = document.getElementById("status");
    status.textContent = text;
    status.dataset.kind = kind;
  }

  // What went wrong, in words, from a problem-details answer.
  function problem(answer) {
    if (answer.status === 0) return "The service cannot be reached.";
    const body = answer.body || {};
    const detail = body.detail || body.title || `HTTP ${answer.status}`;
    return body.request_id ? `${detail} (request ${body.request_id})` : detail;
  }

  function show(signedIn) {
    document.getElementById("sign-in").hidden = signedIn;
    document.getElementById("app").hidden = !signedIn;
  }

  // Wires the sign-in form and the sign-out button; calls onSignedIn(caller) once signed in.
  async function start({ cookie: name, onSignedIn }) {
    cookieName = name;
    const form = document.getElementById("sign-in");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const field = document.getElementById("key");
      const answer = await api("/sign-in", { method: "POST", body: { key: field.value } });
      field.value = "";
      if (answer.status !== 200) {
        say(problem(answer), "error");
        field.focus();
        return;
      }
      begin(answer.body);
    });
    document.getElementById("sign-out").addEventListener("click", async () => {
      await api("/sign-out", { method: "POST", body: {} });
      show(false);
      say("Signed out.");
      document.getElementById("key").focus();
    });
    function begin(caller) {
      currency = caller.currency;
      document.getElementById("who").textContent =
        caller.supermarket_id ? `${caller.name} · ${caller.supermarket_id}` : caller.name;
      show(true);
      say("");
      onSignedIn(caller);
    }
    const current = await api("/session");
    if (current.status === 200) {
      begin(current.body);
    } else {
      show(false);
      document.getElementById("key").focus();
    }
  }

  return { api, total, money, say, problem, start, show, toMicros };
})();
