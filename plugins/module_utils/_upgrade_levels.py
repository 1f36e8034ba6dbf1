# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Nova's ``[upgrade_levels]`` pin: edit it in a config file, and read the compute RPC selections Nova logs.

Private module_utils (``_`` prefix): not a public API of the collection. Pure Python standard library: it runs
under the host's Python, not Nova's.

The INI reader follows oslo.config's own parser (``oslo_config.iniparser``) rather than ``configparser``, which
differs on the points that matter here: a line that starts with a space or a tab continues the value of the
previous assignment; ``#`` and ``;`` start a comment only at the start of a line (``compute = auto # x`` has the
value ``auto # x``); ``key: value`` is an assignment too; a value in matching quotes is unquoted; a section may
appear several times (oslo merges them, the last assignment of a key wins); group names are compared in lower
case, keys exactly.
"""

from __future__ import annotations

import datetime
import re

SECTION = 'upgrade_levels'

# The options of Nova's [upgrade_levels] group (nova/conf/upgrade_levels.py, unchanged since Stein).
KNOWN_OPTIONS = ('compute', 'conductor', 'scheduler', 'baseapi')

# A value Nova can use as an RPC version cap: a version (6.4), a release alias (flamingo), or, for compute only,
# auto.
_VERSION_RE = re.compile(r'^\d+\.\d+$')
_ALIAS_RE = re.compile(r'^[a-z]+$')
_KEY_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')


class ConfigSyntaxError(ValueError):
    """A line oslo.config would refuse to parse (nova would not start with it)."""

    def __init__(self, message, lineno, line):
        super().__init__('line %d: %s: %r' % (lineno, message, line))
        self.lineno = lineno
        self.line = line


def _eol(raw):
    """The line ending of raw ('' for a last line without one)."""
    if raw.endswith('\r\n'):
        return '\r\n'
    if raw.endswith('\n') or raw.endswith('\r'):
        return raw[-1]
    return ''


def _split_key_value(line):
    """(key, value, index of the delimiter) of an assignment line, as oslo.config splits it; None if invalid."""
    colon = line.find(':')
    equal = line.find('=')
    if colon < 0 and equal < 0:
        return None
    delimiter = equal if colon < 0 or (0 <= equal < colon) else colon
    value = line[delimiter + 1:].strip()
    if value and value[0] == value[-1] and value.startswith(('"', "'")):
        value = value[1:-1]
    return line[:delimiter].strip(), value, delimiter


def parse(text):
    """Classify every line of an oslo.config file.

    Returns a list of dicts, one per line (``text.splitlines(keepends=True)``), with ``raw`` (the line with its
    ending), ``kind`` (``blank``, ``comment``, ``section``, ``assignment``, ``continuation``), ``section`` (the
    section the line is in, as written; for a header, its own name), ``key`` and ``value`` (assignments; the value
    joined with its continuation lines by newlines like oslo.config), ``owner`` (continuations: the index of their
    assignment) and ``delimiter`` (assignments: index of the ``=`` or ``:``).

    Raises ConfigSyntaxError where oslo.config raises its ParseError.
    """
    lines = []
    section = None
    current = None  # index of the assignment continuation lines extend
    for number, raw in enumerate(text.splitlines(keepends=True), start=1):
        line = raw.rstrip()
        entry = dict(raw=raw, kind=None, section=section, key=None, value=None, owner=None, delimiter=None)
        lines.append(entry)
        if not line:
            entry['kind'] = 'blank'
            current = None
        elif line.startswith((' ', '\t')):
            if current is None:
                raise ConfigSyntaxError('unexpected continuation line', number, line)
            entry['kind'] = 'continuation'
            entry['owner'] = current
            lines[current]['value'] += '\n' + line.lstrip()
        elif line.startswith('['):
            if not line.endswith(']'):
                raise ConfigSyntaxError('invalid section (must end with ])', number, line)
            if len(line) <= 2:
                raise ConfigSyntaxError('empty section name', number, line)
            section = line[1:-1]
            entry.update(kind='section', section=section)
            current = None
        elif line.startswith(('#', ';')):
            entry['kind'] = 'comment'
            current = None
        else:
            split = _split_key_value(line)
            if split is None:
                raise ConfigSyntaxError("no ':' or '=' found in assignment", number, line)
            key, value, delimiter = split
            if not key:
                raise ConfigSyntaxError('key cannot be empty', number, line)
            if section is None:
                raise ConfigSyntaxError('assignment before any section header', number, line)
            entry.update(kind='assignment', key=key, value=value, delimiter=delimiter)
            current = len(lines) - 1
    return lines


def _in_section(entry):
    """Whether the line belongs to an [upgrade_levels] section (oslo compares group names in lower case)."""
    return entry['section'] is not None and entry['section'].lower() == SECTION


def options(lines):
    """The [upgrade_levels] options as oslo.config reads them from these lines: dict key -> value (last wins)."""
    found = {}
    for entry in lines:
        if entry['kind'] == 'assignment' and _in_section(entry):
            found[entry['key']] = entry['value']
    return found


def check_levels(levels, state):
    """Return a list of error messages for the module's levels option (empty when it is fine)."""
    errors = []
    if not levels:
        errors.append('levels is empty: name at least one [upgrade_levels] option, for example {compute: auto}')
        return errors
    for key, value in levels.items():
        if not _KEY_RE.match('%s' % key):
            errors.append('levels has the invalid option name %r: use an option name of [upgrade_levels] (%s)'
                          % (key, ', '.join(KNOWN_OPTIONS)))
            continue
        if state == 'absent':
            continue
        if key not in KNOWN_OPTIONS:
            errors.append('levels.%s is not an option of [upgrade_levels] (nova would ignore it): use one of %s'
                          % (key, ', '.join(KNOWN_OPTIONS)))
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.append('levels.%s is empty: give a value (auto, a version such as 6.4, or a release name such '
                          'as flamingo), or use state=absent to remove the option' % key)
        elif isinstance(value, bool) or not isinstance(value, str):
            errors.append('levels.%s is the %s %r, not a string: quote it (%s: "%s"); YAML reads an unquoted 6.10 '
                          'as the number 6.1' % (key, type(value).__name__, value, key, value))
        elif value != value.strip() or '\n' in value or '\r' in value:
            errors.append('levels.%s %r has surrounding spaces or a line break: give the bare value' % (key, value))
        elif value == 'auto':
            if key != 'compute':
                errors.append('levels.%s=auto: only compute accepts auto (nova would use "auto" as the %s RPC '
                              'version and fail); give a version such as 1.0 or a release name' % (key, key))
        elif not (_VERSION_RE.match(value) or _ALIAS_RE.match(value)):
            errors.append('levels.%s %r is not auto, a version such as 6.4 or a release name in lower case such as '
                          'flamingo' % (key, value))
    return errors


def _file_eol(lines):
    for entry in lines:
        if _eol(entry['raw']):
            return _eol(entry['raw'])
    return '\n'


def _with_eol(raw, eol):
    return raw if _eol(raw) else raw + eol


def _rewrite(entry, value, eol):
    """The assignment line of entry with value instead of its value; keeps the key and the spacing around '='."""
    line = entry['raw'].rstrip('\r\n')
    delimiter = entry['delimiter']
    after = line[delimiter + 1:]
    spacing = after[:len(after) - len(after.lstrip(' \t'))]
    if not spacing and delimiter > 0 and line[delimiter - 1] in ' \t':
        spacing = ' '
    return line[:delimiter + 1] + spacing + value + (_eol(entry['raw']) or eol)


def _commented_out(entry, key):
    """Whether entry is a comment line that holds an assignment of key (``#compute = <None>``)."""
    if entry['kind'] != 'comment':
        return False
    return re.match(r'^[#;]+\s*%s\s*[=:]' % re.escape(key), entry['raw']) is not None


def edit(text, levels, state):
    """Apply levels to the text of an oslo.config file.

    state ``present``: every key of levels ends up assigned once, with its value, in an [upgrade_levels] section.
    An existing assignment is rewritten in place (the last one of the key, which oslo.config uses; the others
    and their continuation lines are removed); a missing one is added after the last commented-out assignment of
    the key in the section (``#compute = <None>`` of a generated sample stays), else after the last assignment
    of the last [upgrade_levels] section, else right after its header; a missing section is appended at the end.

    state ``absent``: every assignment of the keys is removed from every [upgrade_levels] section, whatever its
    value.

    In both states, a section this removes lines from (options, or duplicates) and that is left with nothing but
    blank lines loses its header (and those blank lines, and at the end of the file the blank line before it); a
    section that keeps comments or other options keeps its header.

    Returns the new text (the same object content when nothing changes). Raises ConfigSyntaxError.
    """
    lines = parse(text)
    eol = _file_eol(lines)
    delete = set()
    replace = {}
    insert_after = {}
    append = []

    def remove(index):
        delete.add(index)
        for other, entry in enumerate(lines):
            if entry['kind'] == 'continuation' and entry['owner'] == index:
                delete.add(other)

    headers = [i for i, e in enumerate(lines) if e['kind'] == 'section' and e['section'].lower() == SECTION]
    for key, value in levels.items():
        found = [i for i, e in enumerate(lines) if e['kind'] == 'assignment' and _in_section(e) and e['key'] == key]
        if state == 'absent':
            for index in found:
                remove(index)
            continue
        value = '%s' % value
        if found:
            keep = found[-1]
            for index in found[:-1]:
                remove(index)
            has_continuation = any(e['kind'] == 'continuation' and e['owner'] == keep for e in lines)
            if lines[keep]['value'] != value or has_continuation:
                remove(keep)
                delete.discard(keep)
                replace[keep] = _rewrite(lines[keep], value, eol)
            continue
        new_line = '%s = %s%s' % (key, value, eol)
        if not headers:
            append.append(new_line)
            continue
        comments = [i for i, e in enumerate(lines) if _in_section(e) and _commented_out(e, key)]
        if comments:
            anchor = comments[-1]
        else:
            last = headers[-1]
            anchor = last
            for index in range(last + 1, len(lines)):
                if lines[index]['kind'] == 'section':
                    break
                if lines[index]['kind'] in ('assignment', 'continuation') and index not in delete:
                    anchor = index
        insert_after.setdefault(anchor, []).append(new_line)

    if delete:
        _drop_empty_sections(lines, headers, delete, set(insert_after))

    out = []
    for index, entry in enumerate(lines):
        if index not in delete:
            raw = replace.get(index, entry['raw'])
            out.append(_with_eol(raw, eol) if index in insert_after else raw)
        out.extend(insert_after.get(index, ()))  # also after a line removed by another key of levels
    if append:
        if out:
            out[-1] = _with_eol(out[-1], eol)
            if out[-1].strip():
                out.append(eol)
        out.append('[%s]%s' % (SECTION, eol))
        out.extend(append)
    return ''.join(out)


def _drop_empty_sections(lines, headers, delete, anchors):
    """Add to delete the headers (and blank lines) of [upgrade_levels] sections emptied by this edit."""
    for header in headers:
        end = header + 1
        while end < len(lines) and lines[end]['kind'] != 'section':
            end += 1
        body = range(header + 1, end)
        if not any(i in delete for i in body) or any(header <= i < end for i in anchors):
            continue  # not touched by this edit, or options are added to it: left as it is
        if any(lines[i]['kind'] != 'blank' for i in body if i not in delete):
            continue  # comments or other options left: keep the header
        delete.add(header)
        delete.update(body)
        if end == len(lines) and header > 0 and lines[header - 1]['kind'] == 'blank':
            delete.add(header - 1)


# --- the compute RPC selections Nova logs -------------------------------------------------------------------

SELECTION_TEXT = 'Automatically selected compute RPC version'
_SELECTION_RE = re.compile(r'Automatically selected compute RPC version (?P<rpc>\d+(?:\.\d+)+) from minimum '
                           r'service version (?P<service>\d+)')
# oslo.log's default line: "2026-11-23 02:10:01.123 1234 INFO nova.compute.rpcapi [...] message"
_LOG_PREFIX_RE = re.compile(r'^(?P<time>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,6})?)\s+(?P<pid>\d+)\s')


def parse_since(value):
    """Parse the since option: epoch seconds or an ISO 8601 date-time.

    Returns a naive datetime in the host's local time (oslo.log writes local times without a zone), or None for
    an empty value. A date-time without a zone is taken as local time. Raises ValueError with a message.
    """
    if value is None or '%s' % value == '':
        return None
    text = ('%s' % value).strip()
    if re.match(r'^\d+(?:\.\d+)?$', text):
        return datetime.datetime.fromtimestamp(float(text))
    try:
        parsed = datetime.datetime.fromisoformat(text.replace('Z', '+00:00').replace('z', '+00:00'))
    except ValueError:
        raise ValueError('since %r is neither epoch seconds nor an ISO 8601 date-time: give, for example, '
                         '2026-11-23T02:10:00+00:00, 2026-11-23 02:10:00 (local time of the host) or 1795400000'
                         % value) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone().replace(tzinfo=None)
    return parsed


def _log_time(text):
    try:
        return datetime.datetime.fromisoformat(text.replace(',', '.').replace(' ', 'T', 1))
    except ValueError:
        return None


def parse_selection(line):
    """The compute RPC selection of one log line: dict time (naive datetime or None), pid, rpc, service_version.

    None when the line is not nova's "Automatically selected compute RPC version" message.
    """
    if SELECTION_TEXT not in line:
        return None
    match = _SELECTION_RE.search(line)
    if not match:
        return None
    prefix = _LOG_PREFIX_RE.match(line)
    return dict(time=_log_time(prefix.group('time')) if prefix else None,
                pid=int(prefix.group('pid')) if prefix else None,
                rpc=match.group('rpc'),
                service_version=int(match.group('service')))


def read_selections(handle, since=None):
    """The selections of a log file (an iterable of lines), in file order, at or after since (a naive datetime).

    With since, lines without a time of their own are left out (they cannot be placed).
    """
    found = []
    for line in handle:
        selection = parse_selection(line)
        if selection is None:
            continue
        if since is not None and (selection['time'] is None or selection['time'] < since):
            continue
        found.append(selection)
    return found


def version_tuple(value):
    """(6, 4) for '6.4'; None when value is not a dotted version."""
    if not value or not re.match(r'^\d+(?:\.\d+)*$', '%s' % value):
        return None
    return tuple(int(part) for part in ('%s' % value).split('.'))


def select_compute_rpc(setting, minimum, history, service_version, aliases):
    """The compute RPC version cap a nova service selects, as nova/compute/rpcapi.py's ComputeAPI.router does.

    setting: [upgrade_levels] compute ('' or None when unset); minimum: the minimum nova-compute service version
    (all cells, 0 when there is none); history: the compute_rpc of every SERVICE_VERSION_HISTORY entry;
    service_version: the code's SERVICE_VERSION; aliases: ComputeAPI.VERSION_ALIASES.

    Returns (selected, problem): selected is the version, None when nova would fail; problem explains why
    (or warns about a setting nova does not understand), else None.
    """
    newest = history[service_version] if 0 <= service_version < len(history) else (history[-1] if history else None)
    if not setting:
        return newest, None
    if setting == 'auto':
        if not minimum:
            # nova: no compute yet -> the current version, not cached (the next call asks again)
            return newest, None
        if minimum >= len(history):
            return None, ('the minimum nova-compute service version %d is newer than this code knows (its service '
                          'version is %d): services running this code with compute=auto fail every compute RPC '
                          'call with ServiceTooOld' % (minimum, service_version))
        return history[minimum], None
    selected = aliases.get(setting, setting)
    if version_tuple(selected) is None:
        return selected, ('[upgrade_levels] compute = %s is neither auto, a version nor a release alias this code '
                          'knows (%s): nova uses it as the version cap as it is, and compute RPC calls fail'
                          % (setting, ', '.join(sorted(aliases))))
    return selected, None
