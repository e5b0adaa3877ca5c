"""The contract between ezio-deploy and whatever drives it.

ezio-deploy publishes its exit codes (``include/ezio/exitcode.h``) and the
JSON status it prints with ``--status json`` as a JSON Schema
(``config/ezio-status.schema.json``, installed as
``share/ezio/ezio-status.schema.json``).  This package carries that schema
(``ezio-status.schema.json`` beside this file is the C side's own file) and
reads the exit codes from it, so that the two sides cannot disagree;
``tests/ironic/test_contract.py`` fails if they drift.
"""

import functools
import json
import os

import jsonschema

SCHEMA_FILE = os.path.join(os.path.dirname(__file__), 'ezio-status.schema.json')

# The status version this package understands.
STATUS_VERSION = 1


@functools.lru_cache(maxsize=None)
def schema():
    """The status schema.

    :returns: the parsed JSON Schema (a dict).
    """
    with open(SCHEMA_FILE, encoding='utf-8') as f:
        return json.load(f)


@functools.lru_cache(maxsize=None)
def exit_codes():
    """ezio-deploy's exit codes.

    :returns: a dict of exit code (int) to (name, meaning), e.g.
        ``4: ('EZ_EXIT_TARGET', 'target unusable: ...')``.
    """
    return {c['const']: (c['title'], c['description'])
            for c in schema()['$defs']['exit_code']['oneOf']}


def phases():
    """The phases of a run in the order they come (error excepted).

    :returns: a list of phase names.
    """
    return list(schema()['properties']['phase']['x-ezio-order'])


@functools.lru_cache(maxsize=None)
def _validator():
    return jsonschema.Draft202012Validator(schema())


def parse_status(line):
    """One status line of ezio-deploy, checked against the schema.

    :param line: a line of ``ezio-deploy --status json`` output.
    :returns: the status as a dict, or None when the line is not a status
        object (ezio-deploy prints nothing else on stdout, but a wrapper
        might).
    :raises ValueError: the line is a status object that breaks the
        contract (another version, a missing field ...).
    """
    line = line.strip()
    if not line.startswith('{'):
        return None
    try:
        status = json.loads(line)
    except ValueError:
        return None
    if not isinstance(status, dict) or 'phase' not in status:
        return None
    errors = sorted(_validator().iter_errors(status), key=lambda e: e.path)
    if errors:
        raise ValueError('ezio-deploy status breaks the contract (version %s): %s'
                         % (status.get('version'), errors[0].message))
    return status


def describe_exit(code):
    """What an exit code of ezio-deploy means, for a message.

    :param code: the exit status (a negative one is a signal, as
        subprocess reports it).
    :returns: a sentence such as ``'exit 4 (EZ_EXIT_TARGET): target
        unusable: ...'``.
    """
    if code < 0:
        return 'killed by signal %d' % -code
    name, meaning = exit_codes().get(code, ('unknown', 'not an exit code ezio-deploy documents'))
    return 'exit %d (%s): %s' % (code, name, meaning)
