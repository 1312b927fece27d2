// Ask before irreversible or heavy actions (forms marked data-confirm). Without
// JavaScript the form simply posts; the server still checks every permission.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
