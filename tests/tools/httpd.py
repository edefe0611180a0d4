#!/usr/bin/python3
"""Loopback HTTP server for tinmoi's fetch tests (Python 3 stdlib only).

Listens on 127.0.0.1 with an ephemeral port and prints the port as the
first line of stdout. Routes:

  /feed            200 RSS with ETag + Last-Modified + Cache-Control + Expires;
                   304 when If-None-Match or If-Modified-Since matches
  /gzip            the feed, Content-Encoding: gzip
  /redirect/N      N redirects, then the feed; ?codes=301.302 picks each hop's
                   status in turn (default 302)
  /loop            redirects to itself forever
  /404, /500       those statuses with an HTML body
  /slow            sleeps ?s= seconds (default 3) before answering
  /big             ?n= bytes (default 1 MiB) of text, ?gzip=1 compresses them
                   (small on the wire, big once decompressed)
  /html            a text/html page
  /retry           429 with Retry-After: 120 (?date=1: an HTTP-date 1 h ahead)
  /charset         Content-Type: application/rss+xml; charset=windows-1252
  /file-redirect   302 to file:///etc/passwd
  /headers         echoes the request's User-Agent and Accept as the body
  /concurrent      sleeps ?ms= (default 200) while counting requests in flight
  /stats           "max=<most /concurrent requests seen at once>"
  /reset           clears the /concurrent counters
"""
import gzip
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FEED = (b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<rss version="2.0"><channel><title>Test</title>'
        b'<link>http://example.org/</link>'
        b'<item><title>One</title><link>http://example.org/1</link></item>'
        b'</channel></rss>\n')
ETAG = '"v1"'
LAST_MODIFIED = 'Tue, 31 May 2022 03:55:00 GMT'

lock = threading.Lock()
in_flight = 0
max_in_flight = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, body, ctype='application/rss+xml', headers=None):
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def redirect(self, status, location):
        self.send_response(status)
        self.send_header('Location', location)
        body = b'moved'
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global in_flight, max_in_flight
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        path = u.path
        try:
            if path == '/feed':
                inm = self.headers.get('If-None-Match')
                ims = self.headers.get('If-Modified-Since')
                if inm == ETAG or (inm is None and ims == LAST_MODIFIED):
                    self.send_response(304)
                    self.send_header('ETag', ETAG)
                    self.end_headers()
                    return
                self.send_body(200, FEED, 'application/rss+xml; charset="utf-8"', {
                    'ETag': ETAG,
                    'Last-Modified': LAST_MODIFIED,
                    'Cache-Control': 'public, max-age=300',
                    'Expires': 'Wed, 01 Jun 2022 00:00:00 GMT',
                })
            elif path == '/gzip':
                self.send_body(200, gzip.compress(FEED), 'application/rss+xml',
                               {'Content-Encoding': 'gzip'})
            elif path.startswith('/redirect/'):
                n = int(path.split('/')[2])
                codes = q.get('codes', ['302'])[0].split('.')
                if n <= 0:
                    self.send_body(200, FEED)
                else:
                    hop = int(q.get('hop', ['0'])[0])
                    code = int(codes[hop % len(codes)])
                    self.redirect(code, '/redirect/%d?codes=%s&hop=%d'
                                  % (n - 1, '.'.join(codes), hop + 1))
            elif path == '/loop':
                self.redirect(302, '/loop')
            elif path == '/404':
                self.send_body(404, b'<html>not found</html>', 'text/html')
            elif path == '/500':
                self.send_body(500, b'<html>oops</html>', 'text/html')
            elif path == '/slow':
                time.sleep(float(q.get('s', ['3'])[0]))
                self.send_body(200, FEED)
            elif path == '/big':
                n = int(q.get('n', [str(1 << 20)])[0])
                body = b'a' * n
                if q.get('gzip', ['0'])[0] == '1':
                    # Chunked, no Content-Length: only the decompressed
                    # count can catch it.
                    z = gzip.compress(body)
                    self.send_response(200)
                    self.send_header('Content-Type', 'application/rss+xml')
                    self.send_header('Content-Encoding', 'gzip')
                    self.send_header('Transfer-Encoding', 'chunked')
                    self.end_headers()
                    self.wfile.write(b'%x\r\n%s\r\n0\r\n\r\n' % (len(z), z))
                else:
                    self.send_body(200, body)
            elif path == '/html':
                self.send_body(200, b'<!DOCTYPE html><html><body>hi</body></html>',
                               'text/html; charset=utf-8')
            elif path == '/retry':
                if q.get('date', ['0'])[0] == '1':
                    ra = formatdate(time.time() + 3600, usegmt=True)
                else:
                    ra = '120'
                self.send_body(429, b'slow down', 'text/plain', {'Retry-After': ra})
            elif path == '/charset':
                self.send_body(200, FEED, 'application/rss+xml; charset=windows-1252')
            elif path == '/file-redirect':
                self.redirect(302, 'file:///etc/passwd')
            elif path == '/headers':
                body = ('ua=%s\naccept=%s\n' % (self.headers.get('User-Agent'),
                                                 self.headers.get('Accept'))).encode()
                self.send_body(200, body, 'text/plain')
            elif path == '/concurrent':
                with lock:
                    in_flight += 1
                    max_in_flight = max(max_in_flight, in_flight)
                try:
                    time.sleep(int(q.get('ms', ['200'])[0]) / 1000.0)
                finally:
                    with lock:
                        in_flight -= 1
                self.send_body(200, FEED)
            elif path == '/stats':
                with lock:
                    body = ('max=%d' % max_in_flight).encode()
                self.send_body(200, body, 'text/plain')
            elif path == '/reset':
                with lock:
                    max_in_flight = 0
                self.send_body(200, b'ok', 'text/plain')
            else:
                self.send_body(404, b'no such route', 'text/plain')
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that hang up early (timeouts, aborts, cancels) are what the
        # tests provoke; anything else is still reported.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def main():
    server = Server(('127.0.0.1', 0), Handler)
    sys.stdout.write('%d\n' % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
