// Guestbook: a live character counter for fields that have a maxlength,
// and entry times shown in the reader's own time zone. The page works
// without this file; it only adds comfort.
(function () {
  'use strict';

  // Counts code points, as the server does, rather than UTF-16 units.
  function length(text) {
    return Array.from(text.replace(/\r\n?/g, '\n')).length;
  }

  document.querySelectorAll('[data-counter-for]').forEach(function (counter) {
    var field = document.getElementById(counter.getAttribute('data-counter-for'));
    if (!field || !field.maxLength || field.maxLength < 0) {
      return;
    }
    var max = field.maxLength;
    function update() {
      var left = max - length(field.value);
      counter.textContent = left + ' of ' + max + ' characters left';
      counter.classList.toggle('is-near-limit', left <= Math.min(50, max / 10));
    }
    field.addEventListener('input', update);
    update();
  });

  document.querySelectorAll('time[datetime]').forEach(function (el) {
    var when = new Date(el.getAttribute('datetime'));
    if (!isNaN(when.getTime())) {
      el.title = el.textContent;
      el.textContent = when.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    }
  });
})();
