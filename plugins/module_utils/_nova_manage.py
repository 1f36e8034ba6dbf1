# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run Nova's own tools (nova-manage, nova-status, the nova venv's python) on a controller host.

Private module_utils (``_`` prefix): not a public API of the collection.

The modules run under the host's system Python; Nova lives in a virtualenv (or the distribution's Python),
so its tools are always run as subprocesses. Everything these helpers return to a module has passed
through scrub(): Nova's tools print tracebacks that can contain database or message-queue URLs with
their passwords.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex


def nova_host_argument_spec(**extra):
    """The options of every module that runs Nova's tools on a host (each module documents them), plus extra."""
    spec = dict(
        nova_venv=dict(type='path'),
        config_files=dict(type='list', elements='path', default=['/etc/nova/nova.conf']),
        config_dir=dict(type='path'),
    )
    spec.update(extra)
    return spec


# Run Nova's tools untranslated, so their tables and messages parse the same everywhere.
TOOL_ENVIRONMENT = dict(LC_ALL='C.UTF-8', LANG='C.UTF-8', LANGUAGE='C')

# scheme://user:password@ (database, transport and other URLs): the credential part is replaced.
# Greedy up to the last @ of the word, so a password containing @ or / does not leak its tail.
_URL_CREDENTIALS_RE = re.compile(r'\b([A-Za-z][A-Za-z0-9+.\-]*://)[^\s\'"]*@')
# password=..., "password": "...", password: ... in query strings, config dumps and reprs
_PASSWORD_RE = re.compile(r'((?:password|passwd|pwd|secret|token)["\']?\s*[=:]\s*["\']?)[^\s&"\',;]+',
                          re.IGNORECASE)

SCRUBBED = '***'
# Shorter known secrets are not replaced on their own (a password "nova" would mangle every "nova-compute");
# URL credentials are replaced whatever their length.
MIN_SECRET_LENGTH = 6


def scrub(text, secrets=()):
    """Return text without credentials: URL user:password parts, password=... values, and given secrets."""
    if text is None:
        return None
    text = '%s' % text
    for secret in sorted((s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True):
        text = text.replace(secret, SCRUBBED)
    text = _URL_CREDENTIALS_RE.sub(r'\1' + SCRUBBED + '@', text)
    return _PASSWORD_RE.sub(r'\1' + SCRUBBED, text)


# Option names whose values are secrets, in any section of nova's configuration files.
_SECRET_OPTION_RE = re.compile(r'^(connection|slave_connection|transport_url|.*password|.*passwd|.*secret.*|.*_token)$',
                               re.IGNORECASE)


def config_secrets(params):
    """The secret values of the module's config_files and config_dir (passwords, connection and transport URLs).

    Best effort, with a plain INI reader: scrub() replaces these values wherever Nova's tools print them, even in
    forms that do not look like a URL. Unreadable or unparsable files give nothing.
    """
    paths = list(params.get('config_files') or [])
    config_dir = params.get('config_dir')
    if config_dir and os.path.isdir(config_dir):
        paths += sorted(os.path.join(config_dir, f) for f in os.listdir(config_dir) if f.endswith('.conf'))
    secrets = set()
    for path in paths:
        parser = configparser.RawConfigParser(strict=False, delimiters=('=', ':'))
        try:
            parser.read(path)
        except (configparser.Error, IOError, OSError, UnicodeDecodeError):
            continue
        for section in [configparser.DEFAULTSECT] + parser.sections():
            items = parser.defaults().items() if section == configparser.DEFAULTSECT else parser.items(section)
            for key, value in items:
                value = (value or '').strip()
                if value and (_SECRET_OPTION_RE.search(key) or ('://' in value and '@' in value)):
                    # oslo.config reads '$$' as a literal '$': the tools print the value with one.
                    for form in (value, value.replace('$$', '$')):
                        secrets.add(form)
                        secrets.update(_url_passwords(form))
    return sorted(secrets)


def _url_passwords(value):
    """The user:password parts and passwords of the URL(s) in value (transport URLs may list several hosts)."""
    found = []
    match = re.match(r'^[^:/]+://(.*)@', value)
    if match:
        for userinfo in match.group(1).split(','):
            userinfo = userinfo.rsplit('@', 1)[0] if '@' in userinfo else userinfo
            found.append(userinfo)
            if ':' in userinfo:
                found.append(userinfo.split(':', 1)[1])
    return found


def config_args(params):
    """The oslo.config arguments for the module's config_files and config_dir options."""
    argv = []
    for path in params.get('config_files') or []:
        argv += ['--config-file', path]
    if params.get('config_dir'):
        argv += ['--config-dir', params['config_dir']]
    return argv


def check_config_files(module):
    """Fail when a configured file or directory does not exist (oslo.config would fail less clearly)."""
    for path in module.params.get('config_files') or []:
        if not os.path.isfile(path):
            module.fail_json(msg='config file %s (option config_files) does not exist on this host: list the '
                                 'nova configuration files of this host, for example /etc/nova/nova.conf' % path)
    config_dir = module.params.get('config_dir')
    if config_dir and not os.path.isdir(config_dir):
        module.fail_json(msg='config_dir %s does not exist on this host: remove the option or name the '
                             "directory of nova's configuration snippets" % config_dir)


def _venv_bin(module, name):
    venv = module.params.get('nova_venv')
    path = os.path.join(venv, 'bin', name)
    if not os.path.isdir(venv):
        module.fail_json(msg='nova_venv %s does not exist on this host: install the nova release there first, or '
                             'set nova_venv to the directory of an installed nova virtualenv (for example '
                             '/opt/openstack/venvs/nova-33.0.2)' % venv)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        module.fail_json(msg='nova_venv %s has no executable bin/%s: set nova_venv to the directory of an '
                             'installed nova virtualenv (for example /opt/openstack/venvs/nova-33.0.2)'
                             % (venv, name))
    return path


def find_tool(module, name, option):
    """Path of one of Nova's tools (nova-manage, nova-status ...).

    The module option ``option`` wins (a path, or a name looked up on PATH), then ``<nova_venv>/bin/<name>``,
    then ``name`` on PATH. Fails with a message naming the option to set when the tool is not found.
    """
    explicit = module.params.get(option)
    if explicit:
        if os.sep in explicit:
            if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
                module.fail_json(msg='%s %s is not an executable file on this host' % (option, explicit))
            return explicit
        found = module.get_bin_path(explicit)
        if not found:
            module.fail_json(msg='%s %s was not found on PATH on this host: give its full path, or set nova_venv'
                                 % (option, explicit))
        return found
    if module.params.get('nova_venv'):
        return _venv_bin(module, name)
    found = module.get_bin_path(name)
    if not found:
        module.fail_json(msg='%s was not found on PATH on this host: set nova_venv to the nova virtualenv (for '
                             'example /opt/openstack/venvs/nova-33.0.2) or %s to the full path of %s'
                             % (name, option, name))
    return found


def find_python(module, option='nova_python'):
    """The Python interpreter that can import nova.

    The module option wins, then ``<nova_venv>/bin/python``, then the interpreter named in the ``#!`` line
    of nova-manage on PATH (a distribution package or a venv on PATH).
    """
    explicit = module.params.get(option)
    if explicit or module.params.get('nova_venv'):
        return find_tool(module, 'python', option)
    manage = module.get_bin_path('nova-manage')
    if manage:
        interpreter = shebang_interpreter(manage)
        if interpreter:
            if os.sep not in interpreter:
                interpreter = module.get_bin_path(interpreter) or interpreter
            return interpreter
    module.fail_json(msg='cannot tell which python runs nova on this host (no nova-manage on PATH): set nova_venv '
                         'to the nova virtualenv (for example /opt/openstack/venvs/nova-33.0.2) or %s to the '
                         'python that can import nova' % option)
    return None  # not reached


def shebang_interpreter(path):
    """The interpreter of a script's ``#!`` line (``/usr/bin/env python3`` gives ``python3``), or None."""
    try:
        with open(path, 'rb') as handle:
            first = handle.readline(512).decode('utf-8', 'replace').strip()
    except (IOError, OSError):
        return None
    if not first.startswith('#!'):
        return None
    words = first[2:].split()
    if not words:
        return None
    if os.path.basename(words[0]) == 'env' and len(words) > 1:
        return words[-1]
    return words[0]


def command_text(argv):
    """A command line for messages and results (quoted like a shell would need it)."""
    return ' '.join(shlex.quote('%s' % a) for a in argv)


def run_tool(module, argv, data=None, scrub_output=True, cwd=None):
    """Run argv without a shell and in the C locale; return (rc, stdout, stderr, secrets).

    stdout and stderr are scrubbed of URL credentials and of the secret values of the module's configuration
    files (secrets), unless scrub_output is false: then the caller must scrub what it returns with secrets.
    """
    secrets = config_secrets(module.params)
    rc, out, err = module.run_command(argv, data=data, environ_update=dict(TOOL_ENVIRONMENT),
                                      expand_user_and_vars=False, cwd=cwd)
    out, err = out or '', err or ''
    if scrub_output:
        out, err = scrub(out, secrets), scrub(err, secrets)
    return rc, out, err, secrets


def last_line(text):
    """The last non-empty line of a tool's output (the exception of a traceback), or ''."""
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    return lines[-1] if lines else ''


def tail(text, lines=40):
    """The last lines of a tool's output, for an error message."""
    text = (text or '').rstrip()
    parts = text.splitlines()
    if len(parts) > lines:
        return '\n'.join(['[... %d lines before]' % (len(parts) - lines)] + parts[-lines:])
    return text


def parse_table(text):
    """Parse the prettytable tables of a tool's output.

    Returns a list of tables; each is a dict with ``header`` (list of column titles) and ``rows`` (lists of
    cell strings, stripped). A table is a block of ``+---+`` separator lines and ``| a | b |`` lines; the
    first row after the first separator is the header. Lines outside tables are ignored.
    """
    tables = []
    current = None
    for raw in (text or '').splitlines():
        line = raw.strip()
        if line.startswith('+') and line.endswith('+') and set(line) <= set('+-='):
            if current is None:
                current = dict(header=None, rows=[], separators=0)
                tables.append(current)
            current['separators'] += 1
            continue
        if line.startswith('|') and line.endswith('|') and current is not None:
            cells = [c.strip() for c in line[1:-1].split('|')]
            if current['header'] is None:
                current['header'] = cells
            else:
                current['rows'].append(cells)
            continue
        current = None
    for table in tables:
        table.pop('separators')
        if table['header'] is None:
            table['header'] = []
    return tables


def _to_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def parse_online_migrations(text):
    """Parse the output of ``nova-manage db online_data_migrations``.

    Returns (rows, errors): rows are dicts name, total_needed, completed from the migrations table (empty
    when nova printed no table); errors are the ``Error attempting to run ...`` lines and the final
    ``Some migrations failed`` line.
    """
    rows = []
    for table in parse_table(text):
        header = [h.lower() for h in table['header']]
        if header[:1] != ['migration'] or len(header) < 3:
            continue
        for cells in table['rows']:
            if len(cells) < 3 or not cells[0]:
                continue
            rows.append(dict(name=cells[0], total_needed=_to_int(cells[1]), completed=_to_int(cells[2])))
    errors = [line.strip() for line in (text or '').splitlines()
              if line.strip().startswith('Error attempting to run') or 'migrations failed' in line]
    return rows, errors


def sum_migrations(totals, rows):
    """Add rows (from parse_online_migrations) into totals, a dict name -> row; returns totals."""
    for row in rows:
        entry = totals.setdefault(row['name'], dict(name=row['name'], total_needed=0, completed=0))
        entry['total_needed'] += row['total_needed']
        entry['completed'] += row['completed']
    return totals


UPGRADE_CHECK_RESULTS = {0: 'Success', 1: 'Warning', 2: 'Failure'}


def parse_upgrade_check(text):
    """Parse the output of ``nova-status upgrade check`` (or any oslo.upgradecheck tool).

    Understands the human-readable table every release prints::

        | Check: Cells v2                                    |
        | Result: Success                                    |
        | Details: None                                      |

    (details wrap over several lines) and the JSON document of oslo.upgradecheck's ``--json`` option, in
    case a tool prints that. Returns a list of dicts check, result (Success, Warning, Failure), details
    (None when the tool printed None).
    """
    stripped = (text or '').strip()
    for line in stripped.splitlines():
        line = line.strip()
        if line.startswith('{') and '"checks"' in line:
            try:
                doc = json.loads(line)
            except ValueError:
                break
            return [dict(check=c.get('check'),
                         result=UPGRADE_CHECK_RESULTS.get(c.get('result'), '%s' % c.get('result')),
                         details=c.get('details'))
                    for c in doc.get('checks', [])]
    checks = []
    current = None
    field = None
    for raw in stripped.splitlines():
        line = raw.strip()
        if line.startswith('+') and set(line) <= set('+-='):
            current = None
            field = None
            continue
        if not (line.startswith('|') and line.endswith('|')):
            continue
        cell = line[1:-1].strip()
        if cell.startswith('Check: '):
            current = dict(check=cell[len('Check: '):].strip(), result=None, details=None)
            checks.append(current)
            field = 'check'
        elif current is not None and cell.startswith('Result: '):
            current['result'] = cell[len('Result: '):].strip()
            field = 'result'
        elif current is not None and cell.startswith('Details:'):
            details = cell[len('Details:'):].strip()
            current['details'] = None if details == 'None' else details
            field = 'details'
        elif current is not None and field == 'details' and cell:
            current['details'] = ('%s %s' % (current['details'] or '', cell)).strip()
    return checks
