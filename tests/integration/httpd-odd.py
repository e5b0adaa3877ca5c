"""httpd-odd.py - a web server that misbehaves on purpose, for test-fetch
and test-malformed.

nginx serves the well-behaved cases; this one does what nginx will not:

  /flaky/NAME   500 for the first two requests of NAME, then the file NAME
  /always500    500, every time
  /stall        the status line and headers, then nothing for 60 s
  /count/NAME   how many requests NAME has had (plain text)
  /plain/NAME   the file NAME, as it is
  /short-length/NAME  the file NAME under a Content-Length 100 bytes short
  /long-length/NAME   the file NAME under a Content-Length 1000 bytes too
                long, then the connection closed
  /redirect-loop      302 to itself, for ever
  /trickle      Content-Length 100000, then one byte a second (60 at most)
  /huge         Content-Length 2 GiB, the bytes made as they are sent
  /huge-stream  the same without a Content-Length, to the connection's close
  /sent/NAME    how many body bytes the last request of NAME was sent
  /html/NAME    an HTML page (a login or error page where a torrent was
                expected), 200
  /empty        200 with an empty body

Usage: httpd-odd.py ADDR PORT DIR
"""
import http.server
import os
import sys
import time

COUNTS = {}
SENT = {}
HUGE = 2 << 30


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body=b'', ctype='application/octet-stream'):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def file(self, path):
        with open(os.path.join(sys.argv[3], os.path.basename(path)), 'rb') as f:
            return f.read()

    def lazy(self, path, length):
        """length bytes made as they are sent, counted in SENT[path]."""
        chunk = b'd' + b'0' * (1 << 16) + b'e'
        SENT[path] = 0
        try:
            while SENT[path] < length:
                n = min(len(chunk), length - SENT[path])
                self.wfile.write(chunk[:n])
                SENT[path] += n
        except OSError:
            pass

    def do_GET(self):
        path = self.path.split('?')[0]
        COUNTS[path] = COUNTS.get(path, 0) + 1
        if path.startswith('/count/'):
            n = COUNTS.get('/' + path[len('/count/'):], 0)
            self.reply(200, b'%d\n' % n, 'text/plain')
        elif path.startswith('/sent/'):
            self.reply(200, b'%d\n' % SENT.get('/' + path[len('/sent/'):], 0), 'text/plain')
        elif path.startswith('/plain/'):
            self.reply(200, self.file(path))
        elif path.startswith('/short-length/') or path.startswith('/long-length/'):
            body = self.file(path)
            self.send_response(200)
            self.send_header('Content-Length', str(len(body) + (-100 if 'short' in path else 1000)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
        elif path == '/redirect-loop':
            self.send_response(302)
            self.send_header('Location', '/redirect-loop')
            self.send_header('Content-Length', '0')
            self.end_headers()
        elif path == '/trickle':
            self.send_response(200)
            self.send_header('Content-Length', '100000')
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b'd')
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
        elif path in ('/huge', '/huge-stream'):
            self.send_response(200)
            if path == '/huge':
                self.send_header('Content-Length', str(HUGE))
            self.end_headers()
            self.lazy(path, HUGE)
            self.close_connection = True
        elif path.startswith('/html/'):
            self.reply(200, b'<!DOCTYPE html>\n<html><head><title>Sign in</title></head>'
                       b'<body><form>...</form></body></html>\n', 'text/html')
        elif path == '/empty':
            self.reply(200)
        elif path.startswith('/flaky/'):
            if COUNTS[path] <= 2:
                self.reply(500, b'try again\n', 'text/plain')
                return
            name = os.path.basename(path)
            with open(os.path.join(sys.argv[3], name), 'rb') as f:
                self.reply(200, f.read())
        elif path == '/always500':
            self.reply(500, b'broken\n', 'text/plain')
        elif path == '/stall':
            self.send_response(200)
            self.send_header('Content-Length', '100000')
            self.end_headers()
            self.wfile.flush()
            time.sleep(60)
        else:
            self.reply(404, b'no\n', 'text/plain')


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
