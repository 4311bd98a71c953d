/* webtier demo webmail client script, served like Roundcube's program/js/app.js.
 * Auto-saves the compose form as a draft in the session (with the CSRF token) while the user types. */
(function () {
  'use strict';
  var form = document.querySelector('form#compose');
  if (!form) return;
  var status = document.querySelector('.autosave');
  var timer = null;
  function save() {
    var data = new URLSearchParams(new FormData(form));
    fetch('/compose/draft', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': form.elements._token.value, accept: 'application/json' },
      body: data,
      credentials: 'same-origin',
    }).then(function (res) {
      return res.json().then(function (body) {
        if (status) status.textContent = res.ok ? 'Draft saved by ' + body.node + ' at ' + new Date().toLocaleTimeString() : 'Draft not saved: ' + (body.error || res.status);
      });
    }).catch(function (err) {
      if (status) status.textContent = 'Draft not saved: ' + err.message;
    });
  }
  form.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(save, 1500);
  });
})();
