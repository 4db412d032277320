// The console's only script: validate a correction or an entry form as it is typed, and follow a batch's progress.
// Pages work without it (forms post, the server validates again).
(function () {
  "use strict";

  function validateAsYouType(form) {
    var timer = null;
    var validity = document.getElementById("validity");
    var list = document.getElementById("findings");
    function collect() {
      var data = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.name.indexOf(".") > 0) { data[el.name] = el.value; }
      });
      return data;
    }
    function show(errors) {
      form.querySelectorAll(".cell-error").forEach(function (span) { span.textContent = ""; });
      form.querySelectorAll("input[aria-invalid]").forEach(function (input) { input.removeAttribute("aria-invalid"); });
      list.innerHTML = "";
      errors.forEach(function (e) {
        var li = document.createElement("li");
        li.textContent = e.code + " " + e.path + ": " + e.message;
        list.appendChild(li);
        var input = e.field ? document.getElementById("f-" + e.field) : null;
        if (input) {
          input.setAttribute("aria-invalid", "true");
          var span = document.getElementById("e-" + e.field);
          if (span) { span.textContent = e.code + ": " + e.message; }
        }
      });
      validity.textContent = errors.length ? form.dataset.invalid : form.dataset.valid;
      validity.className = errors.length ? "error" : "ok";
    }
    function run() {
      fetch(form.dataset.validate, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf },
        body: JSON.stringify(collect())
      }).then(function (r) { return r.json(); }).then(function (body) { show(body.errors || []); });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(run, 250);
    });
  }

  function followBatch(section) {
    var body = document.getElementById("items");
    function cell(text) { var td = document.createElement("td"); td.textContent = text; return td; }
    function poll() {
      fetch(section.dataset.source, { credentials: "same-origin" }).then(function (r) { return r.json(); })
        .then(function (batch) {
          body.innerHTML = "";
          batch.items.forEach(function (i) {
            var tr = document.createElement("tr");
            tr.appendChild(cell(i.rows.join(", ")));
            tr.appendChild(cell(i.businessKey.join(" / ")));
            var push = cell(i.push); push.className = "push"; tr.appendChild(push);
            var result = cell(i.result); result.className = "result"; tr.appendChild(result);
            var status = cell(i.status); status.className = "status"; tr.appendChild(status);
            var code = cell(i.statusCode === null ? "" : String(i.statusCode)); code.className = "code"; tr.appendChild(code);
            var last = document.createElement("td");
            if (i.clearanceKey) {
              var a = document.createElement("a");
              a.href = "/clearances/" + encodeURIComponent(i.clearanceKey);
              a.textContent = i.clearanceKey;
              last.appendChild(a);
            }
            last.appendChild(document.createTextNode(" " + i.errors.join("; ")));
            tr.appendChild(last);
            body.appendChild(tr);
          });
        }).finally(function () { setTimeout(poll, 1000); });
    }
    setTimeout(poll, 500);
  }

  var form = document.getElementById("correction") || document.getElementById("entry");
  if (form) { validateAsYouType(form); }
  var progress = document.getElementById("progress");
  if (progress) { followBatch(progress); }
})();
