"""httpd-odd.py - a web server that misbehaves on purpose, for test-fetch.

nginx serves the well-behaved cases; this one does what nginx will not:

  /flaky/NAME   500 for the first two requests of NAME, then the file NAME
  /always500    500, every time
  /stall        the status line and headers, then nothing for 60 s
  /count/NAME   how many requests NAME has had (plain text)

Usage: httpd-odd.py ADDR PORT DIR
"""
import http.server
import os
import sys
import time

COUNTS = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body=b'', ctype='application/octet-stream'):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split('?')[0]
        COUNTS[path] = COUNTS.get(path, 0) + 1
        if path.startswith('/count/'):
            n = COUNTS.get('/' + path[len('/count/'):], 0)
            self.reply(200, b'%d\n' % n, 'text/plain')
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
