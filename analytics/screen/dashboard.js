// The Analytics Dashboard: the owners' questions for a range of days and a store.
"use strict";

const Dashboard = (() => {
  const byId = (id) => document.getElementById(id);
  const LOYAL_PAGE = 10;
  const DEFAULT_DAYS = 30;
  const state = { days: [], loyalOffset: 0, loyalCount: 0, ownStore: null, asOf: null, source: "" };
  const count = (n) => new Intl.NumberFormat().format(n);

  function query(extra = {}) {
    const parameters = new URLSearchParams({ from: byId("from").value, to: byId("to").value });
    const store = byId("store").value;
    if (store) parameters.set("supermarket_id", store);
    for (const [key, value] of Object.entries(extra)) parameters.set(key, value);
    return parameters.toString();
  }

  // The oldest "data as of" among a view's answers: every sale before it is in the view.
  function noteFreshness(headers) {
    const asOf = headers.get("X-Data-As-Of");
    if (asOf && (!state.asOf || asOf < state.asOf)) {
      state.asOf = asOf;
      state.source = headers.get("X-Data-Source") || "";
    }
  }

  function showFreshness() {
    if (!state.asOf) return;
    const shown = `${state.asOf.replace("T", " ").slice(0, 19)} UTC`;
    const where = state.source === "replica" ? ", read from the replica" : "";
    byId("as-of").textContent = `Every sale up to ${shown} is counted${where}.`;
  }

  async function ask(path) {
    const answer = await Screen.api(path);
    noteFreshness(answer.headers);
    if (answer.status !== 200) {
      if (answer.status === 401) Screen.show(false);
      throw new Error(Screen.problem(answer));
    }
    return answer.body;
  }

  function shiftDay(isoDay, days) {
    const day = new Date(`${isoDay}T00:00:00Z`);
    day.setUTCDate(day.getUTCDate() + days);
    return day.toISOString().slice(0, 10);
  }

  async function begin(caller) {
    state.ownStore = caller.supermarket_id;
    const stores = (await ask("/supermarkets")).supermarkets;
    const select = byId("store");
    const options = stores.map((s) => new Option(s.supermarket_id, s.supermarket_id));
    if (!state.ownStore) options.unshift(new Option("All stores", ""));
    select.replaceChildren(...options);
    select.disabled = Boolean(state.ownStore);
    // The default range ends on the last day with sales, not today: old data is not an empty page.
    const lastDays = stores.map((s) => s.last_day).filter(Boolean).sort();
    const last = lastDays.length ? lastDays[lastDays.length - 1] : new Date().toISOString().slice(0, 10);
    byId("to").value = last;
    byId("from").value = shiftDay(last, 1 - DEFAULT_DAYS);
    await refresh();
  }

  async function refresh() {
    Screen.say("Loading…");
    state.asOf = null;
    try {
      const range = new URLSearchParams({ from: byId("from").value, to: byId("to").value });
      const [totals, byStore, unique, top, returned, tills] = await Promise.all([
        ask(`/sales/daily-totals?${query()}`),
        ask(`/sales/by-store?${range}`),
        ask(`/unique-customers?${query()}`),
        ask(`/top-products?${query({ limit: 3 })}`),
        ask(`/returned-products?${query({ limit: 5 })}`),
        ask(`/tills?${query()}`),
      ]);
      state.days = totals.days;
      showFigures(totals.days, unique.unique_customers);
      showDaily();
      showStores(byStore.supermarkets);
      showTop(top.products);
      showReturned(returned.products);
      showTills(tills.tills);
      byId("closings-csv").href = `/closings?${query({ format: "csv" })}`;
      byId("daily-csv").href = `/sales/daily-totals?${query({ format: "csv" })}`;
      byId("stores-csv").href = `/sales/by-store?${range}&format=csv`;
      byId("top-csv").href = `/top-products?${query({ limit: 3, format: "csv" })}`;
      byId("returned-csv").href = `/returned-products?${query({ limit: 5, format: "csv" })}`;
      state.loyalOffset = 0;
      await showLoyal();
      showFreshness();
      Screen.say("");
    } catch (error) {
      Screen.say(error.message, "error");
    }
  }

  function showFigures(days, unique) {
    const sum = (key) => days.reduce((total, day) => total + Number(day[key]), 0);
    const revenue = Screen.total(days.map((day) => ({ quantity: 1, unitPrice: day.revenue })));
    byId("revenue").textContent = Screen.money(revenue);
    byId("purchases").textContent = count(sum("purchases"));
    byId("units").textContent = count(sum("units"));
    byId("unique").textContent = count(unique);
    const refunded = Screen.total(days.map((day) => ({ quantity: 1, unitPrice: day.refunded })));
    const gross = Screen.total(days.map((day) => ({ quantity: 1, unitPrice: day.gross_revenue })));
    const share = Number(gross) ? ` (${(100 * Number(refunded) / Number(gross)).toFixed(1)}% of gross)` : "";
    byId("refunds").textContent = count(sum("refunds"));
    byId("refunded").textContent = `${Screen.money(refunded)} refunded${share}`;
  }

  function showDaily() {
    const metric = byId("metric").value;
    Charts.bars(byId("daily-chart"), state.days.map((day) => ({
      label: day.day.slice(5),
      value: Number(day[metric]),
      shown: metric === "revenue" ? Screen.money(day.revenue) : count(day[metric]),
    })));
    byId("daily-chart").setAttribute("aria-label", `${byId("metric").selectedOptions[0].text} per day`);
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const [text, numeric] of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      if (numeric) td.className = "num";
      tr.append(td);
    }
    return tr;
  }

  function showStores(stores) {
    const store = byId("store").value;
    const shown = store ? stores.filter((s) => s.supermarket_id === store) : stores;
    byId("stores").replaceChildren(...shown.map((s) => row([
      [s.supermarket_id], [Screen.money(s.revenue), true], [Screen.money(s.refunded), true],
      [count(s.purchases), true],
      [count(s.units), true], [count(s.customers), true],
    ])));
    Charts.bars(byId("store-chart"), shown.map((s) => ({
      label: s.supermarket_id, value: Number(s.revenue), shown: Screen.money(s.revenue),
    })), { height: 160 });
  }

  function showTop(products) {
    byId("top").replaceChildren(...products.map((p) => row([
      [p.rank, true], [p.product], [count(p.units_sold), true], [count(p.units_returned), true],
    ])));
    if (!products.length) byId("top").replaceChildren(row([["—"], ["no sales in this range"], [""], [""]]));
  }

  function showReturned(products) {
    byId("returned").replaceChildren(...products.map((p) => row([
      [p.product], [count(p.units_returned), true], [Screen.money(p.refunded), true],
    ])));
    if (!products.length) byId("returned").replaceChildren(row([["no refunds in this range"], [""], [""]]));
  }

  function when(moment) {
    return moment ? new Date(moment).toLocaleString() : "—";
  }

  function showTills(tills) {
    byId("tills").replaceChildren(...tills.map((t) => row([
      [t.till_id], [t.supermarket_id], [when(t.period_opened_at)],
      [count(t.open_entries), true], [Screen.money(t.open_net), true],
      [t.last_closed_at ? `${when(t.last_closed_at)}${t.last_closing_automatic ? " (automatic)" : ""}` : "never closed"],
      [t.last_closing_net === null ? "—" : Screen.money(t.last_closing_net), true],
      [Screen.money(t.grand_total), true],
    ])));
    if (!tills.length) byId("tills").replaceChildren(row([["no till has recorded a sale yet"], [""], [""], [""], [""], [""], [""], [""]]));
  }

  async function showLoyal() {
    const store = byId("store").value;
    const parameters = new URLSearchParams({ min_purchases: 3, limit: LOYAL_PAGE, offset: state.loyalOffset });
    if (store) parameters.set("supermarket_id", store);
    const loyal = await ask(`/loyal-customers?${parameters}`);
    byId("loyal-csv").href = `/loyal-customers?${parameters}&format=csv`;
    state.loyalCount = loyal.count;
    byId("loyal-count").textContent = count(loyal.count);
    byId("loyal").replaceChildren(...loyal.customers.map((c) => row([[c.user_id], [count(c.purchases), true]])));
    const first = loyal.count ? state.loyalOffset + 1 : 0;
    const last = state.loyalOffset + loyal.customers.length;
    byId("loyal-page").textContent = `${count(first)}–${count(last)} of ${count(loyal.count)}`;
    byId("loyal-previous").disabled = state.loyalOffset === 0;
    byId("loyal-next").disabled = last >= loyal.count;
  }

  async function page(step) {
    state.loyalOffset = Math.max(0, state.loyalOffset + step * LOYAL_PAGE);
    try {
      await showLoyal();
    } catch (error) {
      Screen.say(error.message, "error");
    }
  }

  byId("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  byId("metric").addEventListener("change", showDaily);
  byId("loyal-previous").addEventListener("click", () => page(-1));
  byId("loyal-next").addEventListener("click", () => page(1));
  return { begin };
})();

Screen.start({ cookie: "owner_session", onSignedIn: (caller) => Dashboard.begin(caller).catch((error) => Screen.say(error.message, "error")) });
