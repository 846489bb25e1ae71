// The till's Return mode: look a sale up by its receipt number, choose what comes back by
// keyboard, get an owner's approval when the total needs one, record the refund exactly once.
"use strict";

const Returns = (() => {
  const byId = (id) => document.getElementById(id);
  const MAX_RETRIES = 10;
  const state = { sale: null, refundKey: null, recording: false };

  function changed() {
    state.refundKey = null; // another refund now: a new Idempotency-Key for it
    showTotal();
  }

  function taken() {
    return [...byId("return-lines").querySelectorAll("input")]
      .map((input) => ({ product: input.dataset.product, quantity: Number(input.value) || 0 }))
      .filter((line) => line.quantity > 0);
  }

  function showTotal() {
    const prices = Object.fromEntries(state.sale ? state.sale.items.map((l) => [l.product, l.unit_price]) : []);
    const lines = taken().map((l) => ({ quantity: l.quantity, unitPrice: prices[l.product] }));
    byId("return-total").textContent = Screen.money(Screen.total(lines));
    byId("record-refund").disabled = lines.length === 0 || state.recording;
  }

  async function lookUp(event) {
    event.preventDefault();
    const number = byId("return-receipt").value.trim();
    if (!/^[0-9]+$/.test(number)) {
      Screen.say("Type the receipt number (digits only).", "error");
      return;
    }
    const answer = await Screen.api(`/purchases/${number}`);
    if (answer.status !== 200) {
      Screen.say(`No sale shown: ${Screen.problem(answer)}`, "error");
      return;
    }
    state.sale = answer.body;
    byId("refund-receipt").hidden = true;
    byId("approval").hidden = true;
    byId("approval-key").value = "";
    byId("return-sale-title").textContent =
      `Purchase ${state.sale.purchase_id} of ${state.sale.supermarket_id} · ${Screen.money(state.sale.total_amount)}`;
    byId("return-lines").replaceChildren(...state.sale.items.map(lineRow));
    byId("return-sale").hidden = false;
    changed();
    const first = byId("return-lines").querySelector("input:not([disabled])");
    if (first) first.focus();
    Screen.say("");
  }

  function lineRow(line) {
    const row = document.createElement("tr");
    const cells = [line.product, line.quantity, line.refundable, Screen.money(line.unit_price)];
    cells.forEach((text, index) => {
      const td = document.createElement("td");
      td.textContent = String(text);
      if (index > 0) td.className = "num";
      row.append(td);
    });
    const input = document.createElement("input");
    Object.assign(input, { type: "number", min: 0, max: line.refundable, value: 0, size: 4 });
    input.dataset.product = line.product;
    input.disabled = line.refundable === 0;
    input.setAttribute("aria-label", `${line.product}: units to take back`);
    input.addEventListener("input", changed);
    const td = document.createElement("td");
    td.className = "num";
    td.append(input);
    row.append(td);
    return row;
  }

  async function record() {
    const lines = taken();
    if (state.recording || !state.sale || lines.length === 0) return;
    state.refundKey = state.refundKey || crypto.randomUUID();
    state.recording = true;
    showTotal();
    try {
      await send({ purchase_id: state.sale.purchase_id, lines, reason: byId("return-reason").value });
    } finally {
      state.recording = false;
      showTotal();
    }
  }

  // Sends the refund; while the service is unavailable, again with the same key.
  async function send(body) {
    for (let attempt = 1; attempt <= MAX_RETRIES; attempt += 1) {
      const headers = { "Idempotency-Key": state.refundKey };
      const approval = byId("approval-key").value.trim();
      if (approval) headers["Approval-Key"] = approval;
      const answer = await Screen.api("/refunds", { method: "POST", body, headers });
      if (answer.status === 201) return done(answer.body);
      if (answer.status === 403 && answer.body && answer.body.type === "/problems/approval-required") {
        byId("approval").hidden = false;
        byId("approval-key").focus();
        Screen.say(`${Screen.problem(answer)}. An owner types their key, then Record refund.`, "error");
        return;
      }
      const retryable = answer.status === 0 || answer.status === 503 || answer.status === 429;
      if (!retryable) {
        Screen.say(`Not refunded: ${Screen.problem(answer)}`, "error");
        return;
      }
      const wait = Number(answer.headers.get("Retry-After")) || 2;
      Screen.say(`${Screen.problem(answer)} Trying again in ${wait} s (attempt ${attempt} of ${MAX_RETRIES}).`, "error");
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
    Screen.say("Not refunded yet: the service is still unavailable. Press Record refund to try again.", "error");
  }

  function done(refund) {
    const receipt = byId("refund-receipt");
    const heading = document.createElement("p");
    heading.id = "refund-number";
    heading.textContent = `Refund ${refund.refund_id} of purchase ${refund.purchase_id} · ${Screen.money(refund.total_amount)}`;
    const chain = document.createElement("p");
    chain.id = "refund-chain";
    chain.className = "hint";
    chain.textContent = `Receipt no. ${refund.receipt_number} of this till · entry hash ${refund.entry_hash}`;
    const list = document.createElement("ul");
    for (const line of refund.lines) {
      const item = document.createElement("li");
      item.textContent = `${line.product}: ${line.quantity} × ${Screen.money(line.unit_price)}`;
      list.append(item);
    }
    receipt.replaceChildren(heading, list, chain);
    receipt.hidden = false;
    byId("return-sale").hidden = true;
    byId("approval-key").value = "";
    state.sale = null;
    state.refundKey = null;
    Screen.say(`Refund recorded: ${Screen.money(refund.total_amount)} back to the customer.`, "good");
    byId("return-receipt").value = "";
    byId("return-receipt").focus();
  }

  byId("return-lookup").addEventListener("submit", lookUp);
  byId("record-refund").addEventListener("click", record);
  byId("return-reason").addEventListener("change", changed);
  document.addEventListener("keydown", (event) => {
    if (event.altKey && event.key.toLowerCase() === "r") {
      event.preventDefault();
      byId("return-receipt").focus();
    } else if (event.key === "Enter" && event.ctrlKey && byId("returns").contains(document.activeElement)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      record();
    }
  }, true);
  return {};
})();
