// Uploads with drag and drop and a progress bar per file. Without JavaScript the
// form posts the files as multipart; with it, each file goes in its own request so
// a large file shows its progress and a failure names the file that failed.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var input = document.getElementById("file-input");
  var zone = document.getElementById("drop-zone");
  var list = document.getElementById("upload-progress");
  var token = form.querySelector("input[name=csrf_token]").value;
  var dropped = null;

  function filesToSend() { return dropped || Array.prototype.slice.call(input.files); }

  function showChosen() {
    list.innerHTML = "";
    filesToSend().forEach(function (file) {
      var item = document.createElement("li");
      item.textContent = file.name + " (" + Math.max(1, Math.round(file.size / 1024)) + " KB)";
      list.appendChild(item);
    });
  }

  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    dropped = Array.prototype.slice.call(event.dataTransfer.files);
    showChosen();
  });
  input.addEventListener("change", function () { dropped = null; showChosen(); });

  function send(file, row) {
    return new Promise(function (resolve) {
      var data = new FormData();
      data.append("csrf_token", token);
      data.append("file", file, file.name);
      var description = form.querySelector("[name=description]").value;
      if (description) { data.append("description", description); }
      var name = form.querySelector("[name=name]").value;
      if (name && filesToSend().length === 1) { data.append("name", name); }
      var bar = document.createElement("progress");
      bar.max = 100; bar.value = 0;
      var status = document.createElement("span");
      status.className = "upload-status";
      row.textContent = file.name + " ";
      row.appendChild(bar); row.appendChild(status);
      var request = new XMLHttpRequest();
      request.open("POST", form.action || window.location.href);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-CSRFToken", token);
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          bar.value = Math.round(event.loaded * 100 / event.total);
          status.textContent = " " + bar.value + "%";
        }
      });
      request.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(request.responseText); } catch (error) { body = {}; }
        if (request.status === 201) {
          bar.value = 100;
          var info = body.resources && body.resources[0];
          status.textContent = " Xong" + (info && info.encoding ? " · mã hóa " + info.encoding : "");
          row.className = "done";
          resolve(body.redirect || null);
        } else {
          var message = (body.error && body.error.message) || ("Lỗi " + request.status);
          var fields = body.error && body.error.fields ? Object.values(body.error.fields).join(" ") : "";
          status.textContent = " Không tải lên được: " + message + (fields ? " " + fields : "");
          row.className = "failed";
          resolve(false);
        }
      });
      request.addEventListener("error", function () {
        status.textContent = " Mất kết nối, chưa tải lên được.";
        row.className = "failed";
        resolve(false);
      });
      request.send(data);
    });
  }

  form.addEventListener("submit", function (event) {
    var files = filesToSend();
    if (!files.length) { return; }  // nothing chosen: let the server say so
    event.preventDefault();
    list.innerHTML = "";
    var rows = files.map(function (file) {
      var row = document.createElement("li");
      list.appendChild(row);
      return row;
    });
    var results = [];
    files.reduce(function (chain, file, index) {
      return chain.then(function () { return send(file, rows[index]).then(function (r) { results.push(r); }); });
    }, Promise.resolve()).then(function () {
      if (results.every(function (r) { return r !== false; })) {
        window.location.href = files.length === 1 && results[0] ? results[0] : form.dataset.datasetUrl + "#resources";
      }
    });
  });
})();
