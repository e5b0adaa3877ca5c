"""status_schema.py - hold every ezio-deploy status line a test produced
against the published schema (config/ezio-status.schema.json).

Usage: status_schema.py SCHEMA PATH...  (files, or folders searched whole)

A status line is a line holding a JSON object with a "phase" key; each
must validate.  A file holding more than one is a status stream (stdout of
--status json): its phases must also come in the schema's order, with
done or error only as its last line; in the stream of a seeder of several
images, the lines of each info-hash.  Prints one line per problem and a
count; exits 1 if there was a problem, 0 otherwise (also when there were
no status lines: not every test makes them).
"""
import json
import os
import sys

import jsonschema

MAX_FILE = 16 << 20     # images are not status files


def status_lines(path):
    try:
        if os.path.getsize(path) > MAX_FILE:
            return []
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        return []
    if b'\0' in data[:4096] or b'"phase"' not in data:
        return []
    out = []
    for n, raw in enumerate(data.split(b'\n'), 1):
        raw = raw.strip()
        if not raw.startswith(b'{'):
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict) and 'phase' in obj:
            out.append((n, obj))
    return out


def order_problems(path, lines, order):
    rank = {p: i for i, p in enumerate(order)}
    last = -1
    for i, (n, obj) in enumerate(lines):
        phase = obj.get('phase')
        if phase in ('done', 'error') and i != len(lines) - 1:
            yield '%s:%d: phase %s before the end of the stream' % (path, n, phase)
        if phase == 'error':
            continue
        r = rank.get(phase, -1)
        if r < last:
            yield '%s:%d: phase %s after %s' % (path, n, phase, order[last])
        last = max(last, r)


def main():
    schema = json.load(open(sys.argv[1]))
    validator = jsonschema.Draft202012Validator(schema)
    order = schema['properties']['phase']['x-ezio-order']
    files = []
    for p in sys.argv[2:]:
        if os.path.isdir(p):
            for top, _, names in os.walk(p):
                files += [os.path.join(top, n) for n in names]
        elif os.path.isfile(p):
            files.append(p)
    count = problems = 0
    for path in sorted(files):
        if os.path.islink(path):
            continue
        lines = status_lines(path)
        count += len(lines)
        for n, obj in lines:
            for e in validator.iter_errors(obj):
                problems += 1
                print('%s:%d: %s (%s)' % (path, n, e.message, '/'.join(map(str, e.absolute_path)) or 'object'))
        runs = {}
        several = len({obj.get('info_hash') for _, obj in lines} - {None}) > 1
        for n, obj in lines:
            runs.setdefault(obj.get('info_hash') if several else None, []).append((n, obj))
        for run in runs.values():
            for msg in order_problems(path, run, order) if len(run) > 1 else ():
                problems += 1
                print(msg)
    print('status_schema: %d status lines, %d problems' % (count, problems))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
