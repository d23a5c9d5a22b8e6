/* Bảng điều khiển: đăng nhập, đọc các API báo cáo, vẽ biểu đồ SVG. Không dùng thư viện ngoài. */
(function () {
  "use strict";

  var TOKEN_KEY = "motcua.dashboard.token";
  var SVG = "http://www.w3.org/2000/svg";
  var state = { months: [], periods: [] };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function num(n) { return Number(n || 0).toLocaleString("vi-VN"); }

  function pct(v) {
    if (v === null || v === undefined) { return "—"; }
    return Number(v).toLocaleString("vi-VN", { maximumFractionDigits: 2 }) + "%";
  }

  function day(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    return d.toLocaleString("vi-VN", { timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit",
                                       day: "2-digit", month: "2-digit", year: "numeric" });
  }

  function status(text) { $("status").textContent = text || ""; }

  // --- API -----------------------------------------------------------------------------------

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function api(path) {
    return fetch(path, { headers: { "Authorization": "Bearer " + token(), "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) { logout("Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại."); }
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.message || ("Lỗi " + response.status)); }
          return body;
        });
      });
  }

  function login(event) {
    event.preventDefault();
    var form = new URLSearchParams();
    form.set("username", $("username").value.trim());
    form.set("password", $("password").value);
    $("login-error").textContent = "";
    fetch("/api/v1/auth/token", { method: "POST", body: form,
                                   headers: { "Content-Type": "application/x-www-form-urlencoded" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.message || "Đăng nhập không thành công."); }
          sessionStorage.setItem(TOKEN_KEY, body.access_token);
          $("password").value = "";
          start();
        });
      })
      .catch(function (err) { $("login-error").textContent = err.message; });
  }

  function logout(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("board").hidden = true;
    $("who").hidden = true;
    $("login-panel").hidden = false;
    $("login-error").textContent = message || "";
  }

  // --- periods -------------------------------------------------------------------------------

  function buildPeriods(currentMonth) {
    var parts = currentMonth.split("-"), year = Number(parts[0]), month = Number(parts[1]);
    var quarter = Math.floor((month - 1) / 3) + 1;
    var prevMonth = month === 1 ? [year - 1, 12] : [year, month - 1];
    var prevQuarter = quarter === 1 ? [year - 1, 4] : [year, quarter - 1];
    var roman = ["", "I", "II", "III", "IV"];
    function mm(m) { return (m < 10 ? "0" : "") + m; }
    return [
      { key: year + "-Q" + quarter, label: "Quý " + roman[quarter] + " năm " + year + " (quý này)" },
      { key: year + "-" + mm(month), label: "Tháng " + month + "/" + year + " (tháng này)" },
      { key: prevMonth[0] + "-" + mm(prevMonth[1]), label: "Tháng " + prevMonth[1] + "/" + prevMonth[0] },
      { key: prevQuarter[0] + "-Q" + prevQuarter[1], label: "Quý " + roman[prevQuarter[1]] + " năm " + prevQuarter[0] },
      { key: String(year), label: "Năm " + year },
      { key: String(year - 1), label: "Năm " + (year - 1) }
    ];
  }

  // --- drawing -------------------------------------------------------------------------------

  function drawTrend(months) {
    var box = $("chart-trend");
    box.textContent = "";
    var W = 760, H = 310, left = 48, right = 16, top = 34, bottom = 44;
    var plotW = W - left - right, plotH = H - top - bottom, step = plotW / months.length;
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "class": "trend",
                             "aria-labelledby": "trend-svg-title" });
    chart.appendChild(svg("title", { id: "trend-svg-title" },
      "Tỷ lệ đúng hạn theo tháng: cột là tỷ lệ trên số hồ sơ đã giải quyết, đường là tỷ lệ theo cách tính chặt"));
    function y(v) { return top + plotH - plotH * v / 100; }
    [0, 25, 50, 75, 100].forEach(function (v) {
      chart.appendChild(svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), "class": "grid" }));
      chart.appendChild(svg("text", { x: left - 6, y: y(v) + 4, "class": "axis", "text-anchor": "end" }, v + "%"));
    });
    var points = [];
    months.forEach(function (m, i) {
      var cx = left + step * i + step / 2, barW = Math.min(34, step * 0.6);
      chart.appendChild(svg("text", { x: cx, y: H - bottom + 18, "class": "axis", "text-anchor": "middle" }, m.label));
      chart.appendChild(svg("text", { x: cx, y: H - bottom + 34, "class": "axis small", "text-anchor": "middle" },
                            num(m.resolved_total) + " hs"));
      if (m.resolved_only !== null) {
        var bar = svg("rect", { x: cx - barW / 2, y: y(m.resolved_only), width: barW,
                                height: Math.max(1, top + plotH - y(m.resolved_only)), "class": "bar", rx: 2 });
        bar.appendChild(svg("title", {}, "Tháng " + m.label + ": " + pct(m.resolved_only) + " đúng hạn ("
          + num(m.resolved_early + m.resolved_on_time) + "/" + num(m.resolved_total) + " hồ sơ đã giải quyết)"));
        chart.appendChild(bar);
        chart.appendChild(svg("text", { x: cx, y: y(m.resolved_only) - 5, "class": "value", "text-anchor": "middle" },
                              Math.round(m.resolved_only) + "%"));
      }
      points.push(m.strict === null ? null : [cx, y(m.strict), m]);
    });
    var segment = [];
    function flush() {
      if (segment.length > 1) {
        chart.appendChild(svg("polyline", { points: segment.map(function (p) { return p[0] + "," + p[1]; }).join(" "),
                                            "class": "line" }));
      }
      segment = [];
    }
    points.forEach(function (p) { if (p === null) { flush(); } else { segment.push(p); } });
    flush();
    points.forEach(function (p) {
      if (p === null) { return; }
      var dot = svg("circle", { cx: p[0], cy: p[1], r: 4, "class": "dot" });
      dot.appendChild(svg("title", {}, "Tháng " + p[2].label + " (cách tính chặt): " + pct(p[2].strict)));
      chart.appendChild(dot);
    });
    var legend = svg("g", { transform: "translate(" + left + ",14)" });
    legend.appendChild(svg("rect", { x: 0, y: -9, width: 12, height: 10, "class": "bar" }));
    legend.appendChild(svg("text", { x: 18, y: 0, "class": "axis" }, "Trên số đã giải quyết"));
    legend.appendChild(svg("line", { x1: 170, x2: 190, y1: -4, y2: -4, "class": "line" }));
    legend.appendChild(svg("text", { x: 196, y: 0, "class": "axis" }, "Cách tính chặt (Gia Lai)"));
    chart.appendChild(legend);
    box.appendChild(chart);
  }

  function drawChannels(totals) {
    var parts = [
      { key: "online", label: "Trực tuyến", value: totals.new_online },
      { key: "direct", label: "Trực tiếp", value: totals.new_direct },
      { key: "postal", label: "Bưu chính công ích", value: totals.new_postal }
    ];
    var total = parts.reduce(function (s, p) { return s + p.value; }, 0);
    var box = $("chart-channels"), legend = $("channel-legend");
    box.textContent = "";
    legend.textContent = "";
    var W = 360, H = 48;
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "class": "channels",
                             "aria-label": "Tỷ lệ hồ sơ mới theo kênh tiếp nhận" });
    var x = 0;
    parts.forEach(function (p) {
      var w = total ? W * p.value / total : 0;
      if (w > 0) {
        var rect = svg("rect", { x: x, y: 4, width: w, height: 40, "class": "seg " + p.key });
        rect.appendChild(svg("title", {}, p.label + ": " + num(p.value)));
        chart.appendChild(rect);
      }
      x += w;
      var share = total ? pct(Math.round(1000 * p.value / total) / 10) : "—";
      var item = el("li", {});
      item.appendChild(el("span", { "class": "swatch " + p.key, "aria-hidden": "true" }));
      item.appendChild(document.createTextNode(p.label + ": " + num(p.value) + " (" + share + ")"));
      legend.appendChild(item);
    });
    if (!total) { chart.appendChild(svg("text", { x: W / 2, y: 30, "text-anchor": "middle", "class": "axis" },
                                        "Chưa có hồ sơ mới trong kỳ")); }
    box.appendChild(chart);
  }

  function cells(row, values, numeric) {
    values.forEach(function (v, i) { row.appendChild(el("td", numeric && i >= 2 ? { "class": "num" } : {}, v)); });
  }

  function rate(c) {
    return c.resolved_total ? pct(Math.round(10000 * (c.resolved_early + c.resolved_on_time) / c.resolved_total) / 100)
                            : "—";
  }

  function clearBody(tableId) {
    var tbody = document.querySelector("#" + tableId + " tbody");
    tbody.textContent = "";
    return tbody;
  }

  function emptyRow(tableId, tbody, text) {
    var empty = el("tr", {});
    var columns = document.querySelectorAll("#" + tableId + " thead th").length;
    empty.appendChild(el("td", { colspan: String(columns), "class": "empty" }, text));
    tbody.appendChild(empty);
  }

  // A per-procedure table: a row per procedure, the total in the foot (the periodic report calls it
  // `totals`, the satisfaction report `total`: the caller passes it), numbers after the two names.
  function fillProcedures(tableId, rows, total, totalLabel, values, emptyText) {
    var tbody = clearBody(tableId), foot = document.querySelector("#" + tableId + " tfoot");
    foot.textContent = "";
    if (!rows.length) { emptyRow(tableId, tbody, emptyText); }
    rows.forEach(function (r) {
      var tr = el("tr", {});
      cells(tr, [r.procedure_code, r.procedure_name].concat(values(r)), true);
      tbody.appendChild(tr);
    });
    var sum = el("tr", {});
    cells(sum, ["", totalLabel].concat(values(total)), true);
    foot.appendChild(sum);
  }

  function fillTable(report) {
    fillProcedures("procedure-table", report.rows, report.totals, "Tổng cộng", function (c) {
      return [num(c.carried_over), num(c.received_total), num(c.resolved_total), num(c.resolved_early),
              num(c.resolved_on_time), num(c.resolved_late), num(c.in_progress_total), num(c.in_progress_overdue),
              num(c.awaiting_supplement), num(c.withdrawn_or_refused), rate(c)];
    }, "Không có hồ sơ trong kỳ này.");
  }

  // A list of dossiers (text cells): `values` gives a row's cells.
  function fillList(tableId, items, values) {
    var tbody = clearBody(tableId);
    if (!items.length) { emptyRow(tableId, tbody, "Không có hồ sơ."); }
    items.forEach(function (d) {
      var tr = el("tr", {});
      cells(tr, values(d), false);
      tbody.appendChild(tr);
    });
  }

  function dueRow(d) { return [d.code, d.procedure_code, day(d.due_at), d.status_label]; }

  // Late-risk forecast (issue 17): the stored forecasts above the alert threshold, most at risk first.
  function riskRow(d) {
    return [d.code, d.procedure_code, day(d.due_at), pct(Math.round(100 * d.probability)), d.cause_name || "—"];
  }

  function fillCards(report, onTime) {
    var t = report.totals, total = onTime.total;
    $("kpi-received").textContent = num(t.received_total);
    $("kpi-carried").textContent = "Kỳ trước chuyển sang: " + num(t.carried_over);
    $("kpi-resolved").textContent = num(t.resolved_total);
    $("kpi-resolved-split").textContent = "Trước hạn " + num(t.resolved_early) + " · đúng hạn " +
      num(t.resolved_on_time) + " · quá hạn " + num(t.resolved_late);
    $("kpi-rate").textContent = pct(total.resolved_only.value);
    $("kpi-rate-strict").textContent = "Cách tính chặt: " + pct(total.strict.value);
    $("kpi-overdue").textContent = num(t.in_progress_overdue);
    $("kpi-in-progress").textContent = "Đang giải quyết: " + num(t.in_progress_total);
    $("kpi-apologies").textContent = num(t.apologies);
    $("kpi-supplement").textContent = "Chờ bổ sung: " + num(t.awaiting_supplement);
  }

  // Decision 766: dossiers digitised, dossiers with an electronic (signed) result, fees paid online.
  function fillIndicators(report) {
    var by = {};
    report.indicators.forEach(function (i) { by[i.code] = i; });
    [["digitised", "kpi-digitised", " hồ sơ"], ["electronic_results", "kpi-electronic", " hồ sơ"],
     ["paid_online", "kpi-paid-online", " hồ sơ"], ["feedback_on_time", "kpi-feedback", " phản ánh"]].forEach(function (pair) {
      var i = by[pair[0]];
      $(pair[1]).textContent = i ? pct(i.value) : "—";
      $(pair[1] + "-count").textContent = i ? num(i.numerator) + " / " + num(i.denominator) + pair[2] : "";
    });
  }

  // Citizens' satisfaction (app/feedback): per procedure and for the agency, with the number of answers.
  function fillSatisfaction(report) {
    fillProcedures("satisfaction-table", report.rows, report.total, "Toàn cơ quan", function (r) {
      return [num(r.answers)].concat(r.criteria.map(function (c) { return pct(c.satisfied_rate); }),
                                     [pct(r.satisfied_rate)]);
    }, "Chưa có phiếu đánh giá trong kỳ này.");
    $("kpi-satisfaction").textContent = pct(report.total.satisfied_rate);
    $("kpi-satisfaction-count").textContent = num(report.total.answers) + " phiếu đánh giá";
  }

  // A division head sees their division by default and may widen to the whole agency (issue 16).
  function scopeQuery() {
    var scope = $("scope").value;
    return scope ? "&division=" + encodeURIComponent(scope) : "";
  }

  function setUpScope(me) {
    var select = $("scope");
    select.textContent = "";
    if (!me.division_code) { $("scope-box").hidden = true; return; }
    select.appendChild(el("option", { value: me.division_code }, me.division_name + " (phòng của tôi)"));
    select.appendChild(el("option", { value: "" }, "Toàn cơ quan"));
    var head = me.roles.indexOf("leader") >= 0 && me.roles.indexOf("reporter") < 0;
    select.value = head ? me.division_code : "";
    $("scope-box").hidden = false;
  }

  function loadTrend() {
    return api("/api/v1/reports/monthly-on-time?months=12" + scopeQuery()).then(function (monthly) {
      drawTrend(monthly.months);
      return monthly;
    });
  }

  // The dossiers of the scope: overdue, due soon, at risk of being late.
  function loadLists() {
    var q = "limit=10" + scopeQuery();
    return Promise.all([
      api("/api/v1/dossiers?overdue=true&" + q).then(function (page) { fillList("overdue-table", page.items, dueRow); }),
      api("/api/v1/dossiers?due_soon=true&" + q).then(function (page) { fillList("due-soon-table", page.items, dueRow); }),
      api("/api/v1/analysis/at-risk?" + q).then(function (page) { fillList("at-risk-table", page.items, riskRow); })
    ]);
  }

  function loadPeriod(key) {
    status("Đang tải số liệu…");
    var q = "?period=" + encodeURIComponent(key) + scopeQuery();
    return Promise.all([api("/api/v1/reports/periodic" + q), api("/api/v1/reports/on-time" + q + "&group_by=agency"),
                        api("/api/v1/reports/indicators" + q), api("/api/v1/reports/satisfaction" + q)])
      .then(function (results) {
        fillCards(results[0], results[1]);
        fillIndicators(results[2]);
        fillSatisfaction(results[3]);
        fillTable(results[0]);
        drawChannels(results[0].totals);
        status("Số liệu " + results[0].period.label + ".");
      })
      .catch(function (err) { status(err.message); });
  }

  function download(ext) {
    var key = $("period").value;
    status("Đang tạo tệp…");
    fetch("/api/v1/reports/periodic." + ext + "?period=" + encodeURIComponent(key) + scopeQuery(),
          { headers: { "Authorization": "Bearer " + token() } })
      .then(function (response) {
        if (!response.ok) { throw new Error("Không tải được báo cáo."); }
        var match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
        return response.blob().then(function (blob) {
          var link = el("a", { href: URL.createObjectURL(blob), download: match ? match[1] : "bao-cao." + ext });
          document.body.appendChild(link);
          link.click();
          setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
          status("Đã tải tệp " + (match ? match[1] : "") + ".");
        });
      })
      .catch(function (err) { status(err.message); });
  }

  function start() {
    if (!token()) { logout(); return; }
    api("/api/v1/auth/me").then(function (me) {
      if (me.roles.indexOf("reporter") < 0 && me.roles.indexOf("leader") < 0) {
        logout("Tài khoản không có quyền xem báo cáo (cần vai trò lãnh đạo hoặc tổng hợp báo cáo).");
        return;
      }
      $("login-panel").hidden = true;
      $("board").hidden = false;
      $("who").hidden = false;
      $("user-name").textContent = me.full_name;
      $("agency-name").textContent = me.agency_name;
      setUpScope(me);
      return loadTrend().then(function (monthly) {
        $("agency-name").textContent = monthly.agency.name;
        $("trend-note").textContent = monthly.conventions.map(function (c) { return c.name + ": " + c.formula; })
          .join(". ");
        var select = $("period");
        select.textContent = "";
        buildPeriods(monthly.months[monthly.months.length - 1].month).forEach(function (p) {
          select.appendChild(el("option", { value: p.key }, p.label));
        });
        return Promise.all([loadPeriod(select.value), loadLists()]);
      });
    }).catch(function (err) { status(err.message); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", function () { logout(); });
    $("period").addEventListener("change", function () { loadPeriod($("period").value); });
    $("scope").addEventListener("change", function () {
      Promise.all([loadTrend().then(function () { return loadPeriod($("period").value); }), loadLists()])
        .catch(function (err) { status(err.message); });
    });
    $("download-xlsx").addEventListener("click", function () { download("xlsx"); });
    $("download-csv").addEventListener("click", function () { download("csv"); });
    start();
  });
})();
