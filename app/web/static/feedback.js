/* Feedback and rating on the citizen lookup page, for the answer citizen.js renders from JSON:
   the same section as the server-rendered partial (templates/citizen/_feedback.html). The forms
   are plain HTML forms posting to /tra-cuu/phan-anh and /tra-cuu/danh-gia/{token} with the
   lookup's short-lived token (never the secret). Data is inserted as text only. */
(function () {
  "use strict";

  var CRITERIA = [["reception", "Tiếp nhận hồ sơ"], ["handling_time", "Thời gian giải quyết"],
                  ["staff_attitude", "Thái độ của cán bộ"]];
  var LEVELS = [["very_satisfied", "Rất hài lòng"], ["satisfied", "Hài lòng"], ["not_satisfied", "Không hài lòng"]];

  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") el.textContent = value;
      else if (key === "className") el.className = value;
      else el.setAttribute(key, value === true ? "" : value);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (!child) continue;
      if (Array.isArray(child)) child.forEach(function (c) { if (c) el.appendChild(c); });
      else el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return el;
  }

  function item(i) {
    return h("div", { className: "feedback-item" },
      h("p", null, h("strong", { text: "Số " + i.reference }), " — gửi lúc " + i.received_text + " — " + i.status_label),
      h("p", { className: "feedback-content", text: i.content }),
      i.answer ? h("p", { className: "feedback-answer" }, h("strong", { text: "Trả lời (" + i.answered_text + "):" }), " " + i.answer)
               : h("p", { className: "hint", text: "Cơ quan trả lời trước " + i.due_text + "." }));
  }

  function feedbackSection(f) {
    return h("section", { className: "card card-feedback", id: "phan-anh", "aria-labelledby": "feedback-title" },
      h("h3", { id: "feedback-title", text: "Phản ánh, kiến nghị về hồ sơ" }),
      f.items.map(item),
      h("form", { method: "post", action: "/tra-cuu/phan-anh", className: "feedback-form" },
        h("input", { type: "hidden", name: "token", value: f.token }),
        h("div", { className: "field" },
          h("label", { "for": "feedback-content", text: "Nội dung phản ánh, kiến nghị" }),
          h("p", { className: "hint", id: "feedback-hint", text: "Cơ quan trả lời trong " + f.answer_days +
            " ngày làm việc, qua tin nhắn hoặc thư điện tử đã đăng ký và tại trang này." }),
          h("textarea", { id: "feedback-content", name: "content", required: true, minlength: "10", maxlength: "2000",
                          rows: "4", "aria-describedby": "feedback-hint" })),
        h("button", { type: "submit", className: "button", text: "Gửi phản ánh" })));
  }

  function ratingSection(f) {
    var fields = CRITERIA.map(function (c) {
      return h("fieldset", { className: "field rating-criterion" }, h("legend", { text: c[1] }),
        LEVELS.map(function (l) {
          return h("label", { className: "rating-level" },
            h("input", { type: "radio", name: c[0], value: l[0], required: true }), " " + l[1]);
        }));
    });
    return h("section", { className: "card card-rating", id: "danh-gia", "aria-labelledby": "rating-title" },
      h("h3", { id: "rating-title", text: "Đánh giá mức độ hài lòng" }),
      h("p", { text: "Hồ sơ đã trả kết quả. Mời ông/bà đánh giá việc giải quyết hồ sơ (mỗi hồ sơ một lần)." }),
      h("form", { method: "post", action: "/tra-cuu/danh-gia/" + encodeURIComponent(f.token), className: "rating-form" },
        fields,
        h("div", { className: "field" },
          h("label", { "for": "rating-comment", text: "Góp ý thêm (không bắt buộc)" }),
          h("textarea", { id: "rating-comment", name: "comment", maxlength: "1000", rows: "3" })),
        h("button", { type: "submit", className: "button", text: "Gửi đánh giá" })));
  }

  document.addEventListener("motcua:lookup-result", function (event) {
    var f = event.detail && event.detail.feedback;
    var article = document.querySelector("#ket-qua article.result");
    if (!f || !article) return;
    var before = article.querySelector(".card-timeline");
    var parts = [feedbackSection(f)];
    if (f.can_rate) parts.push(ratingSection(f));
    else if (f.rated) parts.push(h("p", { className: "hint", id: "rated-note", text: "Ông/bà đã đánh giá hồ sơ này. Cảm ơn ông/bà." }));
    parts.forEach(function (node) { article.insertBefore(node, before); });
  });
})();
