"""contract.py - the published contract of ezio-deploy and ezio-mktorrent
held against every place that states it.

Usage: contract.py exit-codes ROOT BIN
       contract.py config-keys ROOT BIN

exit-codes: the codes of ezio-deploy/lib/exitcode.h (enum ez_exit for
ezio-deploy, enum ez_mk_exit for ezio-mktorrent) are the ones each
command's --help, man page EXIT STATUS and README.rst name, and the
status schema's exit_code lists ezio-deploy's with their names.

config-keys: the man page's CONFIGURATION FILE table names every option
of --help and every key of config/node.yaml.sample, and each key it names
is one ezio-deploy's parser knows.

Prints "ok - ..." or "not ok - ..." lines (lib.sh counts them).
"""
import json
import os
import re
import subprocess
import sys
import tempfile


def say(good, what, detail=''):
    print('%s - %s' % ('ok' if good else 'not ok', what))
    if not good and detail:
        print('  ' + str(detail))


def header_codes(root):
    text = open(os.path.join(root, 'ezio-deploy/lib/exitcode.h')).read()
    out = {}
    for enum in ('ez_exit', 'ez_mk_exit'):
        body = re.search(r'enum %s \{(.*?)\};' % enum, text, re.S).group(1)
        out[enum] = {int(v): n for n, v in re.findall(r'(EZ_\w+) = (\d+)', body)}
    return out


def help_codes(binary):
    text = subprocess.run([binary, '--help'], capture_output=True, text=True).stdout
    tail = text[text.index('Exit status'):]
    return {int(x) for x in re.findall(r'\b(\d{1,3})\b', tail)}


def man_codes(path):
    text = open(path).read()
    sec = re.search(r'^\.SH EXIT STATUS$(.*?)^\.SH ', text, re.S | re.M).group(1)
    return {int(x) for x in re.findall(r'^\.B (\d+)$', sec, re.M)}


def readme_codes(root):
    text = open(os.path.join(root, 'README.rst')).read()
    table = text[text.index('Exit codes of ezio-deploy'):]
    table = table[:table.index('Every failure prints')]
    deploy = {int(x) for x in re.findall(r'^(\d+) {2,}', table, re.M)}
    mk = re.search(r'``ezio-mktorrent`` exits (.*?)\.', text, re.S).group(1)
    mk = {int(x) for x in re.findall(r'\b(\d{1,3})\b', mk)}
    return deploy, mk


def exit_codes(root, bindir):
    codes = header_codes(root)
    readme_deploy, readme_mk = readme_codes(root)
    for cmd, enum, readme in (('ezio-deploy', 'ez_exit', readme_deploy), ('ezio-mktorrent', 'ez_mk_exit', readme_mk)):
        want = set(codes[enum])
        got = help_codes(os.path.join(bindir, cmd))
        say(got == want, '%s --help names the exit codes of exitcode.h' % cmd, '%s != %s' % (sorted(got), sorted(want)))
        got = man_codes(os.path.join(root, 'ezio-deploy/man/%s.1' % cmd))
        say(got == want, '%s(1) EXIT STATUS names the exit codes of exitcode.h' % cmd,
            '%s != %s' % (sorted(got), sorted(want)))
        say(readme == want, 'README.rst names the exit codes of %s as exitcode.h' % cmd,
            '%s != %s' % (sorted(readme), sorted(want)))
    schema = json.load(open(os.path.join(root, 'config/ezio-status.schema.json')))
    listed = {c['const']: c['title'] for c in schema['$defs']['exit_code']['oneOf']}
    say(listed == codes['ez_exit'], 'the status schema lists the exit codes of exitcode.h by their names',
        '%s != %s' % (listed, codes['ez_exit']))


def man_table(root):
    text = open(os.path.join(root, 'ezio-deploy/man/ezio-deploy.1')).read()
    sec = re.search(r'^\.SH CONFIGURATION FILE$(.*?)^\.SH ', text, re.S | re.M).group(1)
    sec = sec[sec.index('\n.nf\n'):sec.index('\n.fi\n')]
    rows = []
    for line in sec.splitlines():
        if '\t' not in line:
            continue
        opt, key = (x.replace('\\-', '-').replace('\\(em', '-').strip() for x in line.split('\t'))
        rows.append((None if opt == '-' else opt, None if key == '-' else key))
    return rows


def sample_keys(root):
    keys, section = set(), None
    for line in open(os.path.join(root, 'config/node.yaml.sample')):
        m = re.match(r'^#?([a-z_0-9]+):', line)
        if m:
            section = m.group(1)
            keys.add(section)
            continue
        m = re.match(r'^#? {2}([a-z_0-9]+):', line)
        if m and section:
            keys.discard(section)
            keys.add('%s.%s' % (section, m.group(1)))
    return keys


def config_keys(root, bindir):
    binary = os.path.join(bindir, 'ezio-deploy')
    rows = man_table(root)
    helped = set(re.findall(r'--[a-z][a-z0-9-]+', subprocess.run([binary, '--help'], capture_output=True,
                                                                text=True).stdout))
    tabled = {o for o, _ in rows if o}
    say(tabled == helped, 'the CONFIGURATION FILE table names every option of --help, and no other',
        'only in --help: %s; only in the table: %s' % (sorted(helped - tabled), sorted(tabled - helped)))
    keys = {k.split(':')[0] for _, k in rows if k}
    sample = sample_keys(root)
    say(keys == sample, 'the table names every key of node.yaml.sample, and no other',
        'only in the sample: %s; only in the table: %s' % (sorted(sample - keys), sorted(keys - sample)))
    unknown = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in sorted(keys):
            path = os.path.join(tmp, 'k.yaml')
            parts = key.split('.')
            # a value no key takes: a known key is refused for its value, an unknown one as unknown
            with open(path, 'w') as f:
                f.write('%s: {nested: [1]}\n' % parts[0] if len(parts) == 1 else
                        '%s:\n  %s: {nested: [1]}\n' % (parts[0], parts[1]))
            err = subprocess.run([binary, '--config', path], capture_output=True, text=True).stderr
            if 'unknown key' in err or not err:
                unknown.append('%s (%s)' % (key, err.strip()))
    say(not unknown, 'ezio-deploy knows every key the table names', ', '.join(unknown))


if __name__ == '__main__':
    {'exit-codes': exit_codes, 'config-keys': config_keys}[sys.argv[1]](sys.argv[2], sys.argv[3])
