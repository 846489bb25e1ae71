// The till screen: search the catalog, build the basket, record the sale exactly once.
"use strict";

const Till = (() => {
  const state = {
    store: "",
    products: [], // [{id, name, unit_price}] from GET /catalog
    etag: "",
    basket: [], // [{name, quantity, unitPrice}]
    saleKey: null, // the Idempotency-Key of this basket: made once, kept across retries
    highlighted: 0,
    recording: false,
  };
  const byId = (id) => document.getElementById(id);
  const MAX_RETRIES = 10;

  async function loadCatalog() {
    const answer = await Screen.api("/catalog", {
      headers: state.etag ? { "If-None-Match": state.etag } : {},
    });
    if (answer.status === 200) {
      state.products = answer.body.products;
      state.etag = answer.headers.get("ETag") || "";
      for (const line of state.basket) {
        const product = state.products.find((p) => p.name === line.name);
        if (product) line.unitPrice = product.unit_price;
      }
      showMatches();
      showBasket();
    } else if (answer.status !== 304) {
      Screen.say(`Catalog: ${Screen.problem(answer)}`, "error");
    }
  }

  function matches() {
    const wanted = byId("search").value.trim().toLowerCase();
    return state.products.filter((p) => p.name.toLowerCase().includes(wanted));
  }

  function showMatches() {
    const found = matches();
    state.highlighted = Math.min(state.highlighted, Math.max(found.length - 1, 0));
    const body = byId("matches");
    body.replaceChildren(
      ...found.map((product, index) => {
        const row = document.createElement("tr");
        row.setAttribute("aria-selected", String(index === state.highlighted));
        if (index === state.highlighted) row.style.background = "#e6f0fb";
        const add = button(`Add ${product.name}`, "Add", () => add(product.name));
        row.append(cell(product.name), cell(Screen.money(product.unit_price), "num"), cellOf(add));
        return row;
      }),
    );
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }
  function cellOf(...children) {
    const td = document.createElement("td");
    td.append(...children);
    return td;
  }
  function button(label, text, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.setAttribute("aria-label", label);
    element.addEventListener("click", onClick);
    return element;
  }

  // Any change to the basket makes it another sale: a new idempotency key for it.
  function changed() {
    state.saleKey = null;
    showBasket();
  }

  function add(name) {
    const product = state.products.find((p) => p.name === name);
    const line = state.basket.find((l) => l.name === name);
    if (line) line.quantity += 1;
    else state.basket.push({ name, quantity: 1, unitPrice: product.unit_price });
    byId("receipt-section").hidden = true;
    changed();
  }

  function setQuantity(name, quantity) {
    state.basket = state.basket
      .map((l) => (l.name === name ? { ...l, quantity } : l))
      .filter((l) => l.quantity > 0);
    changed();
  }

  function showBasket() {
    byId("basket").replaceChildren(
      ...state.basket.map((line) => {
        const row = document.createElement("tr");
        const minus = button(`One ${line.name} less`, "−", () => setQuantity(line.name, line.quantity - 1));
        const plus = button(`One ${line.name} more`, "+", () => setQuantity(line.name, line.quantity + 1));
        const remove = button(`Remove ${line.name}`, "×", () => setQuantity(line.name, 0));
        row.append(
          cell(line.name),
          cellOf(minus, ` ${line.quantity} `, plus),
          cell(Screen.money(Screen.total([line])), "num"),
          cellOf(remove),
        );
        return row;
      }),
    );
    byId("total").textContent = Screen.money(Screen.total(state.basket));
    byId("record").disabled = state.basket.length === 0 || state.recording;
  }

  function saleBody() {
    const items = state.basket.flatMap((l) => Array(l.quantity).fill(l.name));
    const body = { supermarket_id: state.store, items };
    const card = byId("card").value.replace(/\s+/g, "");
    if (card) body.loyalty_card = card;
    return body;
  }

  async function record() {
    if (state.recording || state.basket.length === 0) return;
    state.saleKey = state.saleKey || crypto.randomUUID();
    state.recording = true;
    showBasket();
    try {
      await send(saleBody(), state.saleKey);
    } finally {
      state.recording = false;
      showBasket();
    }
  }

  // Sends the sale; while the service is unavailable, sends it again with the same key, so a
  // lost answer or an outage never records it twice.
  async function send(body, key) {
    for (let attempt = 1; attempt <= MAX_RETRIES; attempt += 1) {
      const answer = await Screen.api("/purchase", {
        method: "POST",
        body,
        headers: { "Idempotency-Key": key },
      });
      if (answer.status === 201) return done(answer.body);
      if (answer.status === 401) {
        Screen.say("The session has ended: sign in again; the basket is kept.", "error");
        Screen.show(false);
        return;
      }
      const retryable = answer.status === 0 || answer.status === 503 || answer.status === 429;
      if (!retryable) {
        Screen.say(`Not recorded: ${Screen.problem(answer)}. The basket is kept.`, "error");
        if (answer.status === 422) await loadCatalog();
        return;
      }
      const wait = Number(answer.headers.get("Retry-After")) || 2;
      Screen.say(
        `${Screen.problem(answer)} Trying again in ${wait} s (attempt ${attempt} of ${MAX_RETRIES}); the basket is kept.`,
        "error",
      );
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
    Screen.say("Not recorded yet: the service is still unavailable. Press Record sale to try again.", "error");
  }

  function done(receipt) {
    const lines = receipt.items.map(
      (l) => `<tr><td></td><td class="num"></td><td class="num"></td></tr>`,
    );
    const table = document.createElement("table");
    table.innerHTML = `<thead><tr><th>Product</th><th class="num">Qty</th><th class="num">Line</th></tr></thead><tbody>${lines.join("")}</tbody>`;
    table.querySelectorAll("tbody tr").forEach((row, index) => {
      const line = receipt.items[index];
      row.children[0].textContent = line.product;
      row.children[1].textContent = `${line.quantity} × ${Screen.money(line.unit_price)}`;
      row.children[2].textContent = Screen.money(line.line_total);
    });
    const heading = document.createElement("p");
    heading.id = "receipt-number";
    heading.textContent = `Purchase ${receipt.purchase_id} · total ${Screen.money(receipt.total_amount)}`;
    const chain = document.createElement("p");
    chain.id = "receipt-chain";
    chain.className = "hint";
    chain.textContent = `Receipt no. ${receipt.receipt_number} of this till · entry hash ${receipt.entry_hash}`;
    byId("receipt").replaceChildren(heading, table, chain);
    byId("receipt-section").hidden = false;
    Screen.say(`Sale recorded: purchase ${receipt.purchase_id}.`, "good");
    state.basket = [];
    byId("card").value = "";
    changed();
    byId("next-sale").focus();
  }

  function onSearchKey(event) {
    const found = matches();
    if (event.key === "ArrowDown") state.highlighted = Math.min(state.highlighted + 1, found.length - 1);
    else if (event.key === "ArrowUp") state.highlighted = Math.max(state.highlighted - 1, 0);
    else if (event.key === "Enter" && !event.ctrlKey) {
      event.preventDefault();
      if (found[state.highlighted]) {
        add(found[state.highlighted].name);
        byId("search").value = "";
        state.highlighted = 0;
      }
    } else return;
    showMatches();
  }

  function wire() {
    byId("search").addEventListener("input", () => {
      state.highlighted = 0;
      showMatches();
    });
    byId("search").addEventListener("keydown", onSearchKey);
    byId("record").addEventListener("click", record);
    byId("clear").addEventListener("click", () => {
      state.basket = [];
      changed();
    });
    byId("card").addEventListener("input", () => {
      state.saleKey = null;
    });
    byId("next-sale").addEventListener("click", () => {
      byId("receipt-section").hidden = true;
      byId("search").focus();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.ctrlKey) {
        event.preventDefault();
        record();
      }
    });
  }

  async function begin(caller) {
    state.store = caller.supermarket_id;
    await loadCatalog();
    // A cashier who moved on while the catalog loaded (Alt+R to a return) keeps their place.
    if (!byId("app").contains(document.activeElement)) byId("search").focus();
  }

  wire();
  setInterval(() => { if (!document.getElementById("app").hidden) loadCatalog(); }, 60000);
  return { begin };
})();

Screen.start({ cookie: "till_session", onSignedIn: Till.begin });
