// httpd.h demo page: marks the page as loaded once the stylesheet applied.
document.getElementById('state').classList.add('ok');
document.title = 'httpd.h device (ready)';
