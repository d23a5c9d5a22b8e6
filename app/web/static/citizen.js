/* Citizen lookup page: submit code and secret as JSON to the lookup API and show the answer.
   Without JavaScript the form posts to /tra-cuu and the server renders the same result.
   Data is only ever inserted as text (textContent), never as HTML. */
(function () {
  "use strict";

  var MESSAGES = {
    codeRequired: "Vui lòng nhập mã hồ sơ.",
    secretRequired: "Vui lòng nhập mã tra cứu.",
    codeInvalid: "Mã hồ sơ không hợp lệ; vui lòng kiểm tra lại.",
    secretInvalid: "Mã tra cứu không hợp lệ; vui lòng kiểm tra lại.",
    notFound: "Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu đã nhập. Vui lòng kiểm tra lại hai mã in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả.",
    tooMany: "Ông/bà đã tra cứu quá nhiều lần. Vui lòng thử lại sau ít phút.",
    network: "Không kết nối được với máy chủ. Vui lòng kiểm tra kết nối mạng rồi thử lại.",
    server: "Hệ thống đang bận hoặc gặp lỗi. Vui lòng thử lại sau.",
    busy: "Đang tra cứu…",
    submit: "Tra cứu"
  };

  function h(tag, attrs) {
    var el = document.createElement(tag);
    var key;
    for (key in attrs || {}) {
      if (!Object.prototype.hasOwnProperty.call(attrs, key) || attrs[key] === null || attrs[key] === undefined) continue;
      if (key === "text") el.textContent = attrs[key];
      else if (key === "className") el.className = attrs[key];
      else el.setAttribute(key, attrs[key]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) child.forEach(function (c) { if (c) el.appendChild(c); });
      else el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return el;
  }

  function fact(term, value, node) {
    if (!value && !node) return null;
    return h("div", null, h("dt", { text: term }), node ? h("dd", null, node) : h("dd", { text: value }));
  }

  function renderResult(r) {
    var status = h("div", { className: "status status-" + r.status },
      h("p", { className: "status-label", text: r.status_label }),
      h("p", { className: "status-text", id: "status-text", text: r.status_text }),
      r.closing_reason ? h("p", { className: "status-reason" }, h("strong", { text: "Lý do:" }), " " + r.closing_reason) : null);

    var todo = null;
    if (r.pending_supplement_items && r.pending_supplement_items.length) {
      todo = h("section", { className: "card card-todo", "aria-labelledby": "todo-title" },
        h("h3", { id: "todo-title", text: "Giấy tờ cần bổ sung" }),
        h("ul", null, r.pending_supplement_items.map(function (item) { return h("li", { text: item }); })));
    }

    var appointment = null;
    if (r.appointment_date) {
      appointment = h("div", { className: "appointment" },
        h("p", { className: "appointment-caption", text: r.new_due_at ? "Ngày hẹn trả kết quả mới" : "Ngày hẹn trả kết quả" }),
        h("p", { className: "appointment-date", id: "appointment-date", text: r.appointment_date }),
        h("p", { className: "appointment-detail", text: r.appointment_detail }),
        r.new_due_at && r.due_text ? h("p", { className: "appointment-original", text: "Ngày hẹn ban đầu: " + r.due_text }) : null,
        (r.deadline_moves || []).map(function (m) {
          return h("p", { className: "appointment-moved", text: "Ngày hẹn đã dời: " + m.from_text + " → " + m.to_text +
            (m.reason ? ". Lý do: " + m.reason : "") + "." });
        }),
        r.progress_label ? h("p", { className: "badge badge-" + r.progress, text: r.progress_label }) : null,
        r.outcome_label ? h("p", { className: "badge badge-outcome-" + r.outcome, text: "Giải quyết: " + r.outcome_label }) : null,
        // the citizen's clock (app/web/citizen_clock.py; citizen/_clock.html without JavaScript)
        r.clock ? h("p", { className: "clock clock-" + r.clock.state, id: "citizen-clock", text: r.clock.text }) : null);
    }

    var facts = h("dl", { className: "facts" },
      fact("Thủ tục", r.procedure_name),
      fact("Người nộp", r.applicant_name),
      fact("Cơ quan giải quyết", r.agency_name),
      fact("Hình thức nộp", r.channel_label),
      fact("Ngày tiếp nhận", r.received_text),
      fact("Ngày có kết quả", r.resolved_text),
      fact("Ngày trả kết quả", r.returned_text));

    var apologies = (r.apologies || []).map(function (a, i) {
      var id = "apology-title-" + (i + 1);
      return h("section", { className: "card card-apology", "aria-labelledby": id },
        h("h3", { id: id, text: "Thư xin lỗi và hẹn lại ngày trả kết quả" }),
        h("p", { text: "Ngày " + a.issued_text + ", " + r.agency_name + " xin lỗi ông/bà vì hồ sơ chưa được giải quyết đúng hẹn." }),
        h("dl", { className: "facts facts-compact" },
          fact("Lý do chậm", a.reason),
          fact("Ngày hẹn ban đầu", a.original_due_text),
          fact("Ngày hẹn mới", a.new_due_text),
          fact("Người ký", a.signer_title)));
    });

    // A refused, withdrawn or stopped dossier has nothing to collect: the server sends no collection.
    var c = r.collection;
    var phone = c && c.phone ? h("a", { href: "tel:" + c.phone.replace(/\s+/g, ""), text: c.phone }) : null;
    var collect = !c ? null : h("section", { className: "card card-collect", "aria-labelledby": "collect-title" },
      h("h3", { id: "collect-title", text: "Nhận kết quả" }),
      h("p", { className: "collect-method", text: c.method_label }),
      h("p", { text: c.how }),
      h("dl", { className: "facts facts-compact" },
        fact("Nơi tiếp nhận", c.place_name),
        fact("Địa chỉ", c.address),
        fact("Điện thoại", null, phone),
        fact("Giờ làm việc", c.office_hours),
        fact("Cần mang theo", c.bring)));

    // Fees (app/payments): what is due, the "Thanh toán" button (a form to /tra-cuu/thanh-toan), the receipt.
    var payments = (r.payments || []).map(function (p, i) {
      var receipt = p.receipt ? h("dl", { className: "facts facts-compact receipt" },
        fact("Biên lai số", null, h("span", { className: "receipt-number", text: p.receipt.number })),
        fact("Số tiền đã nộp", p.receipt.amount_text),
        fact("Thời điểm nộp", p.receipt.paid_text),
        fact("Hình thức", p.receipt.method_label)) : null;
      var pay = p.pay_token ? h("form", { method: "post", action: "/tra-cuu/thanh-toan", className: "payment-form" },
        h("input", { type: "hidden", name: "token", value: p.pay_token }),
        h("button", { type: "submit", className: "button", id: "pay-button", text: "Thanh toán" })) : null;
      return h("section", { className: "card card-payment", "aria-labelledby": "payment-title-" + (i + 1) },
        h("h3", { id: "payment-title-" + (i + 1), text: "Phí, lệ phí" }),
        h("p", { className: "payment-amount" }, "Số tiền: ", h("strong", { text: p.amount_text }), " — " + p.status_label),
        h("ul", { className: "payment-items" }, p.items.map(function (item) {
          return h("li", { text: item.name + ": " + item.total_text });
        })),
        receipt,
        p.refund_text ? h("p", { className: "payment-refund", text: "Hoàn trả: " + p.refund_text }) : null,
        p.pending_online ? h("p", { className: "hint", text: "Đã có giao dịch trực tuyến đang chờ cổng thanh toán xác nhận." }) : null,
        pay);
    });

    var download = null;
    var doc = r.result_document;
    if (doc) {
      download = h("section", { className: "card card-download", "aria-labelledby": "download-title" },
        h("h3", { id: "download-title", text: "Kết quả điện tử" }),
        h("p", { text: doc.document + ", đã ký số ngày " + doc.signed_text + " (" + doc.signer_title + ")." }),
        h("p", null, h("a", { className: "button", id: "result-download", href: doc.url, download: doc.file_name,
                              text: "Tải kết quả (PDF)" })),
        h("p", { className: "hint" }, "Đường dẫn có hiệu lực trong thời gian ngắn; tra cứu lại để nhận đường dẫn mới. " +
          "Kiểm tra chữ ký tại trang ", h("a", { href: "/xac-thuc", text: "Xác thực văn bản" }), "."));
    }

    var post = null;
    if (r.shipments && r.shipments.length) {
      post = h("section", { className: "card card-post", "aria-labelledby": "post-title" },
        h("h3", { id: "post-title", text: "Theo dõi bưu gửi" }),
        h("ul", { className: "shipments" }, r.shipments.map(function (s) {
          var when = s.delivered_text || s.handed_over_text;
          return h("li", null,
            h("p", { className: "shipment-direction", text: s.direction_label }),
            h("p", null, s.carrier + " — số hiệu ", h("strong", { className: "code", text: s.tracking_number })),
            h("p", { text: "Tình trạng: " + s.status_label + (when ? " (" + when + ")" : "") }));
        })));
    }

    var timeline = h("section", { className: "card card-timeline", "aria-labelledby": "timeline-title" },
      h("h3", { id: "timeline-title", text: "Quá trình xử lý" }),
      h("ol", { className: "timeline" }, (r.timeline || []).map(function (t) {
        return h("li", null,
          h("span", { className: "timeline-date", text: t.date_text }),
          h("span", { className: "timeline-label", text: t.label }),
          t.reason ? h("span", { className: "timeline-reason", text: "Lý do: " + t.reason }) : null,
          t.items && t.items.length ? h("ul", { className: "timeline-items" },
            t.items.map(function (item) { return h("li", { text: item }); })) : null);
      })));

    return h("article", { className: "result", "aria-labelledby": "result-title" },
      h("h2", { id: "result-title", className: "result-title", tabindex: "-1" },
        "Hồ sơ ", h("span", { className: "code", text: r.code })),
      status, todo, appointment, facts, apologies, payments, collect, download, post, timeline);
  }

  function init() {
    var form = document.getElementById("lookup-form");
    var region = document.getElementById("ket-qua");
    if (!form || !region || !window.fetch) return;
    var button = document.getElementById("lookup-submit");
    var fields = { code: document.getElementById("code"), secret: document.getElementById("secret") };
    var baseTitle = "Tra cứu hồ sơ | Bộ phận Một cửa";
    form.noValidate = true; // our own messages, tied to the inputs, replace the browser bubbles

    function setFieldError(name, message) {
      var input = fields[name];
      var error = document.getElementById(name + "-error");
      if (message) {
        input.setAttribute("aria-invalid", "true");
        error.textContent = message;
        error.hidden = false;
      } else {
        input.removeAttribute("aria-invalid");
        error.textContent = "";
        error.hidden = true;
      }
    }

    function show(node, title) {
      region.textContent = "";
      region.appendChild(node);
      document.title = title ? title + " — " + baseTitle : baseTitle;
    }

    function showNotice(message, kind) {
      var notice = h("div", { className: "notice " + (kind || "notice-error"), id: "lookup-error" }, h("p", { text: message }));
      show(notice, "Chưa tra cứu được");
      notice.scrollIntoView({ block: "nearest" });
    }

    function busy(on) {
      button.disabled = on;
      button.textContent = on ? MESSAGES.busy : MESSAGES.submit;
      region.setAttribute("aria-busy", on ? "true" : "false");
    }

    Object.keys(fields).forEach(function (name) {
      fields[name].addEventListener("input", function () {
        if (fields[name].getAttribute("aria-invalid") === "true" && fields[name].value.trim()) setFieldError(name, "");
      });
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var code = fields.code.value.trim();
      var secret = fields.secret.value.trim();
      setFieldError("code", code ? "" : MESSAGES.codeRequired);
      setFieldError("secret", secret ? "" : MESSAGES.secretRequired);
      if (!code || !secret) {
        (code ? fields.secret : fields.code).focus();
        return;
      }
      busy(true);
      fetch(form.getAttribute("data-api"), {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ code: code, secret: secret }),
        credentials: "omit",
        cache: "no-store"
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.ok) {
            show(renderResult(body), "Hồ sơ " + body.code);
            // feedback.js adds the feedback and rating section (its own file, its own concern).
            document.dispatchEvent(new CustomEvent("motcua:lookup-result", { detail: body }));
            var title = document.getElementById("result-title");
            if (title) {
              // On a phone the answer is below the form: bring it to the top, then give it focus.
              title.scrollIntoView({ block: "start" });
              title.focus({ preventScroll: true });
            }
          } else if (response.status === 404) {
            showNotice(MESSAGES.notFound);
          } else if (response.status === 429) {
            showNotice(body.message || MESSAGES.tooMany, "notice-wait");
          } else if (response.status === 422) {
            var bad = {};
            (body.detail || []).forEach(function (d) { if (d.loc && d.loc.length > 1) bad[d.loc[d.loc.length - 1]] = true; });
            setFieldError("code", bad.code ? MESSAGES.codeInvalid : "");
            setFieldError("secret", bad.secret ? MESSAGES.secretInvalid : "");
            showNotice(bad.code || bad.secret ? "Vui lòng kiểm tra các ô được đánh dấu." : MESSAGES.server);
          } else {
            showNotice(MESSAGES.server);
          }
        });
      }).catch(function () {
        showNotice(MESSAGES.network);
      }).then(function () {
        busy(false);
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
