# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a Python snippet with the nova installation's python and read the JSON document it prints.

Private module_utils (``_`` prefix): not a public API of the collection.

Nova is not importable by the host's system Python, so a module that needs Nova's own code (its objects,
its configuration) sends a snippet to Nova's python on stdin (``python - --config-file ...``). snippet()
builds it: SNIPPET_PRELUDE, then the module's own code, which defines ``main(argv)`` and ends with
``run(main)``. The snippet prints exactly one marker line of JSON; run_snippet() runs it and returns that
document.
"""

from __future__ import annotations

import json

from ansible_collections.rolling.openstack.plugins.module_utils._nova_manage import (
    config_args,
    run_tool,
    scrub,
    tail,
)

# The start of every snippet. It runs with the nova installation's python: it must stay compatible with every
# Python a supported nova runs on (nothing newer than Python 3.8), print exactly one marker line of JSON (emit),
# and never print a connection URL: every message goes through scrub with the secrets it learnt (remember).
# The snippet returns raw facts; the module decides what they mean, so that logic is tested without nova.
# Formatted with %(marker)r.
SNIPPET_PRELUDE = r'''
import json
import re
import sys

MARKER = %(marker)r
SECRETS = set()
URL_RE = re.compile(r'\b([A-Za-z][A-Za-z0-9+.\-]*://)[^\s\'"]*@')


def remember(url):
    if not url:
        return
    SECRETS.add(url)
    match = re.match(r'^[^:]+://([^@]*)@', url)
    if match:
        for part in [match.group(1)] + match.group(1).split(':', 1)[1:]:
            if len(part) >= 6:
                SECRETS.add(part)


def scrub(text):
    text = '%%s' %% text
    for secret in sorted(SECRETS, key=len, reverse=True):
        text = text.replace(secret, '***')
    return URL_RE.sub(r'\1***@', text)


def emit(doc):
    sys.stdout.write(MARKER + json.dumps(doc) + '\n')
    sys.stdout.flush()


def bootstrap(prog, argv):
    """Load nova's configuration from argv as nova's commands do, remember its URLs, register nova's objects.

    Returns nova.conf.CONF. Call it before importing any other nova module (the monkey patching comes first).
    """
    try:
        from nova import monkey_patch
        if hasattr(monkey_patch, 'patch'):
            monkey_patch.patch()
    except ImportError:
        pass
    from nova import config
    from nova import objects
    import nova.conf

    conf = nova.conf.CONF
    # Like nova-manage: rpc.init registers transport_url, which cell mappings need; it connects nothing.
    config.parse_args([prog] + argv)
    for group, name in (('database', 'connection'), ('api_database', 'connection'), (None, 'transport_url')):
        try:
            remember(getattr(conf[group], name) if group else getattr(conf, name))
        except Exception:
            pass
    objects.register_all()
    return conf


def finish(doc):
    """Release nova's RPC transport, print doc; returns 0, main's exit code."""
    try:
        from nova import rpc
        rpc.cleanup()
    except Exception:
        pass
    emit(doc)
    return 0


def run(main):
    """Exit with main(sys.argv[1:]); an exception becomes the document's error, scrubbed."""
    try:
        code = main(sys.argv[1:])
    except SystemExit:
        raise
    except BaseException as exc:
        emit(dict(error='%%s: %%s' %% (type(exc).__name__, scrub(exc))))
        code = 1
    raise SystemExit(code)
'''


def snippet(marker, body):
    """The snippet to send to nova's python: SNIPPET_PRELUDE printing marker, then body (which calls run(main))."""
    return SNIPPET_PRELUDE % dict(marker=marker) + body


def snippet_document(stdout, marker):
    """The JSON document of the snippet's marker line, or None."""
    for line in (stdout or '').splitlines():
        if line.startswith(marker):
            try:
                return json.loads(line[len(marker):])
            except ValueError:
                return None
    return None


def run_snippet(module, python, source, marker, what):
    """Run the snippet source with python and the module's configuration files; return (document, secrets).

    Fails the module (``could not read <what> with <python> ...``) when the snippet printed no document, reported
    an error, or exited non-zero. The document is parsed unscrubbed (a scrubbed short secret could mangle it);
    every text from it that the module returns must go through scrub() with secrets, the configuration's secrets.
    """
    argv = [python, '-'] + config_args(module.params)
    rc, out, err, secrets = run_tool(module, argv, data=source, scrub_output=False)
    doc = snippet_document(out, marker)
    if doc is None:
        module.fail_json(msg='could not read %s with %s (rc %d): %s'
                             % (what, python, rc, scrub(tail(err or out, 20), secrets) or 'no output'), rc=rc)
    if doc.get('error') or rc != 0:
        module.fail_json(msg='could not read %s with %s: %s'
                             % (what, python, scrub(doc.get('error') or tail(err, 20), secrets)), rc=rc)
    return doc, secrets
