#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nova_upgrade_state
short_description: Record the progress of a Nova live upgrade in a JSON state file, so that a re-run resumes
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Reads and updates the state file of a Nova live upgrade (playbook rolling.openstack.nova_upgrade) on the host it
    runs on, usually the cloud's manage host (a Nova controller). The phase roles run on the Ansible controller and
    delegate this module there, so the state outlives an ephemeral controller (AWX) and a re-run after a failure
    resumes where it stopped, while a re-run after success finds every phase done.
  - With only O(path) it reads the file and changes nothing (RV(exists), RV(state)).
  - With O(upgrade) it opens the upgrade. No file yet, a new document is created (status C(running)). A file for the
    same target (its C(to_release) is O(upgrade.to_release)) is kept and the upgrade resumes (RV(resumed) is true unless
    it is C(done)); empty version fields are filled in, nothing else is overwritten. A file for another target is
    archived when that upgrade is C(done) (renamed to C(<path without .json>.<id>.<finished stamp>.json), RV(archived))
    and a new document is started; when that upgrade is not done the module fails and changes nothing (finish it, or
    move the file away to start over).
  - O(start_run) appends a run record (and marks an earlier run that never finished as C(interrupted)); a failed
    upgrade goes back to C(running). O(phase) with O(status) records a phase attempt (see O(status)); O(details) are
    merged into the phase's details, O(events) are appended; O(finish) sets the status of the whole upgrade and of
    the current run.
  - The file is written atomically (a temporary file in the same directory, then renamed) with mode C(0640), keeping
    the owner and group of the file it replaces; a missing parent directory is created with mode C(0750).
    C(changed) is true when the file's content changes, which is nearly every write, since writes record times.
  - All times are ISO 8601 in UTC with milliseconds, for example C(2026-11-23T01:38:40.123+00:00).
  - B(Never pass secrets) (passwords, tokens, database or message queue URLs) in O(details), O(events) or
    O(msg). The file is readable by its group and the report copies it. As a safeguard the module refuses
    keys of O(details) and O(events) named like C(password), C(passwd), C(secret), C(token), C(credential),
    C(connection), C(url) or C(private_key), and strings that hold credentials in a URL (C(scheme://user:pass@host)).
  - Needs only the Python standard library on the host.
options:
  path:
    description:
      - The state file, for example C(/var/lib/rolling-openstack/nova-upgrade.json).
    type: path
    required: true
  upgrade:
    description:
      - The upgrade to open, create or resume (see the description). Give it at the start of a run; later calls of
        the same run may leave it out.
    type: dict
    suboptions:
      from_release:
        description: The release the cloud ran when the upgrade started, for example C(2026.1).
        type: str
        required: true
      to_release:
        description: The target release, for example C(2026.2). It identifies the upgrade.
        type: str
        required: true
      from_version:
        description: The Nova version the cloud ran when the upgrade started, for example C(33.0.2).
        type: str
        default: ""
      to_version:
        description: The Nova version of the target, for example C(34.0.0).
        type: str
        default: ""
      reopen:
        description:
          - When the file holds a C(done) upgrade to the same target, archive it and start a new document instead of
            keeping it. The preflight asks for it when a cloud whose upgrade is recorded as done is found not upgraded
            (a service record older than the target, or a pin left on a host); the phases run again.
        type: bool
        default: false
  started:
    description:
      - With O(status) C(done), C(failed) or C(skipped) for a phase recorded only at its end (the preflight, which
        writes nothing until it has passed), when this attempt began (ISO 8601). It counts as one more attempt, and
        C(seconds) is measured from it. Ignored with O(status=running).
    type: str
  start_run:
    description:
      - Append a run record (C(started) now, status C(running)). A run that is still C(running) in the file (the
        previous run died) is marked C(interrupted). An upgrade whose status is C(failed) goes back to C(running).
    type: bool
    default: false
  phase:
    description:
      - The phase to update. One of the phases of the upgrade, in their order.
    type: str
    choices: [preflight, pin, expand, roll, unpin, migrate, contract]
  status:
    description:
      - The phase's new status; needs O(phase).
      - C(running) starts an attempt, which the roles do even for a phase that is already C(done) only when they
        mean to run it again (RV(phase_before) tells them). C(started) is now, C(attempts) is one more,
        C(finished) and C(seconds) are null, the message is O(msg) or empty.
      - C(incomplete) ends an attempt that did part of its work (the roll, when computes are left on the old code, not in
        this run, expected down, or failed within the allowed share); a re-run does the rest.
      - C(done), C(failed), C(skipped) and C(incomplete) end the attempt. C(finished) is now and C(seconds) the time since the
        attempt's C(started) (null for a phase skipped without being started); the message is O(msg) when given.
      - Without O(status), O(msg) and O(details) update a phase that already has a record, and O(phase) alone
        only gives the default C(phase) of O(events).
    type: str
    choices: [running, done, failed, skipped, incomplete]
  msg:
    description:
      - A short human message for the phase, recorded as its C(message) and shown by the report (for example why it
        failed or was skipped). Needs O(phase). (Not C(message), a name ansible-core reserves.)
    type: str
  details:
    description:
      - Phase details, merged into the phase's C(details) (shallow, a key given replaces that key). Needs O(phase).
      - For example the migrate phase records C({runs, migrated, migrations}) for the report.
    type: dict
  events:
    description:
      - Events to append to the upgrade's timeline, each a dict with the keys of RV(state.events). C(time) is filled
        in with now when absent and normalised to UTC; C(phase) defaults to O(phase).
      - For a restart or a switch to the new code, give C(event=restart) or C(event=switch), C(host), C(service), the
        versions C(from) and C(to), C(time) when the service was up again and C(seconds) how long it took; the
        report draws the service as restarting from C(time - seconds) to C(time).
    type: list
    elements: dict
  finish:
    description:
      - Set the status of the whole upgrade, and of the current run when it is still C(running). C(done) and
        C(failed) set C(finished) to now; C(running) reopens the upgrade (C(finished) null).
    type: str
    choices: [running, done, failed]
extends_documentation_fragment:
  - rolling.openstack.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module computes and returns the new document, and the archive name it would use, but
        writes, renames and creates nothing.
  diff_mode:
    support: full
    details:
      - Returns the file's content before and after as the diff.
  idempotent:
    support: partial
    details:
      - Reading (only O(path)) and resuming with O(upgrade) alone change nothing. Recording a phase status, an event,
        a run or O(finish) writes the current time, so it changes the file every time, as intended.
seealso:
  - name: Nova rolling upgrades
    description: The procedure whose phases the state file records.
    link: https://docs.openstack.org/nova/latest/admin/upgrades.html
"""

EXAMPLES = r"""
- name: Open (or resume) the upgrade's state on the manage host
  rolling.openstack.nova_upgrade_state:
    path: /var/lib/rolling-openstack/nova-upgrade.json
    upgrade:
      from_release: "{{ nova_preflight.release.current }}"
      to_release: "{{ nova_preflight.release.target }}"
      from_version: "{{ nova_preflight.release.current_version }}"
      to_version: "{{ nova_preflight.release.target_version }}"
    start_run: true
  delegate_to: "{{ nova_preflight.hosts.manage }}"
  register: nova_upgrade_state_result

- name: Start the pin phase unless a previous run finished it
  rolling.openstack.nova_upgrade_state:
    path: /var/lib/rolling-openstack/nova-upgrade.json
    phase: pin
    status: running
  delegate_to: "{{ nova_preflight.hosts.manage }}"
  register: nova_pin_state
  when: nova_upgrade_state_result.state.phases.pin.status | default('') != 'done'

- name: Record a compute switched to the new code, and the phase's details
  rolling.openstack.nova_upgrade_state:
    path: /var/lib/rolling-openstack/nova-upgrade.json
    phase: roll
    details:
      batches_done: 2
    events:
      - host: cmp1
        service: nova-compute
        event: switch
        from: 33.0.2
        to: 34.0.0
        time: "2026-11-23T01:44:10.500+00:00"
        seconds: 14.2
  delegate_to: "{{ nova_preflight.hosts.manage }}"

- name: The phase failed
  rolling.openstack.nova_upgrade_state:
    path: /var/lib/rolling-openstack/nova-upgrade.json
    phase: roll
    status: failed
    msg: cmp2 did not report up with service version 74 within 300 s
    finish: failed
  delegate_to: "{{ nova_preflight.hosts.manage }}"

- name: Read the state (changes nothing)
  rolling.openstack.nova_upgrade_state:
    path: /var/lib/rolling-openstack/nova-upgrade.json
  delegate_to: "{{ nova_preflight.hosts.manage }}"
  register: nova_upgrade_state_read
"""

RETURN = r"""
exists:
  description: Whether the state file existed before this call.
  returned: always
  type: bool
  sample: true
state_file:
  description:
    - The state file (O(path)). Not returned as C(path), because Ansible would then add the file's attributes to the
      result, and its C(state) key would hide the document.
  returned: always
  type: str
  sample: /var/lib/rolling-openstack/nova-upgrade.json
resumed:
  description: Whether O(upgrade) found an unfinished upgrade of the same target in the file (a resumed upgrade).
  returned: always
  type: bool
  sample: false
archived:
  description:
    - Where a finished upgrade of another target was moved (or would be, in check mode) before a new one started;
      empty otherwise.
  returned: always
  type: str
  sample: /var/lib/rolling-openstack/nova-upgrade.2025.2-to-2026.1.20260412T101500Z.json
phase_before:
  description: The record of O(phase) before this call (empty when the phase had none, or without O(phase)).
  returned: always
  type: dict
  sample: {status: done, started: "2026-11-23T01:39:02.000+00:00", finished: "2026-11-23T01:40:10.250+00:00",
           seconds: 68.25, attempts: 1, message: "", details: {}}
state:
  description: The document (schema 1) after this call, as written (or as it would be written, in check mode); empty
    when there is no file and nothing to create.
  returned: always
  type: dict
  contains:
    schema:
      description: The schema of the document, 1.
      type: int
      sample: 1
    id:
      description: The upgrade's identity, C(<from_release>-to-<to_release>).
      type: str
      sample: 2026.1-to-2026.2
    from_release:
      description: The release the upgrade started from.
      type: str
      sample: "2026.1"
    to_release:
      description: The target release.
      type: str
      sample: "2026.2"
    from_version:
      description: The Nova version the upgrade started from.
      type: str
      sample: 33.0.2
    to_version:
      description: The target Nova version.
      type: str
      sample: 34.0.0
    status:
      description: The upgrade's status, C(running), C(done) or C(failed).
      type: str
      sample: running
    started:
      description: When the upgrade was first started.
      type: str
      sample: "2026-11-23T01:38:40.123+00:00"
    finished:
      description: When the upgrade finished (O(finish) C(done) or C(failed)), or null.
      type: str
      sample: null
    runs:
      description: One record per run of the playbook (O(start_run)).
      type: list
      elements: dict
      contains:
        started:
          description: When the run started.
          type: str
        finished:
          description: When the run finished, or null.
          type: str
        status:
          description: C(running), C(done), C(failed), or C(interrupted) (a later run started while it was running).
          type: str
        check_mode:
          description: Whether the run was in check mode (such a record is never written, only returned).
          type: bool
    phases:
      description:
        - Per phase name (C(preflight), C(pin), C(expand), C(roll), C(migrate), C(unpin), C(contract)), its record.
      type: dict
      contains:
        status:
          description: C(running), C(done), C(failed), C(skipped) or C(incomplete).
          type: str
        started:
          description: When the last attempt started, or null (a phase skipped without being started).
          type: str
        finished:
          description: When the last attempt ended, or null while it runs.
          type: str
        seconds:
          description: Duration of the last attempt in seconds, or null.
          type: float
        attempts:
          description: How many times the phase was started.
          type: int
        message:
          description: The last message recorded for the phase.
          type: str
        details:
          description: What the phase's role recorded (shallow-merged across calls).
          type: dict
      sample:
        pin: {status: done, started: "2026-11-23T01:39:02.000+00:00", finished: "2026-11-23T01:40:10.250+00:00",
              seconds: 68.25, attempts: 1, message: "", details: {}}
    events:
      description: The timeline, in the order recorded.
      type: list
      elements: dict
      contains:
        time:
          description: When it happened (for a restart or switch, when the service was up again).
          type: str
        phase:
          description: The phase it belongs to.
          type: str
        host:
          description: The host (inventory name).
          type: str
        service:
          description: The service or unit, for example C(nova-compute).
          type: str
        event:
          description: What happened, for example C(restart) (same code) or C(switch) (new code).
          type: str
        from:
          description: The version before (for a restart or switch).
          type: str
        to:
          description: The version after.
          type: str
        seconds:
          description: How long it took, or null.
          type: float
        message:
          description: A short human message.
          type: str
"""

import copy
import datetime
import json
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

SCHEMA = 1
PHASES = ('preflight', 'pin', 'expand', 'roll', 'unpin', 'migrate', 'contract')
PHASE_STATUSES = ('running', 'done', 'failed', 'skipped', 'incomplete')
UPGRADE_STATUSES = ('running', 'done', 'failed')
EVENT_KEYS = ('time', 'phase', 'host', 'service', 'event', 'from', 'to', 'seconds', 'message')
FILE_MODE = 0o640
DIR_MODE = 0o750

_SECRET_KEY = re.compile(r'password|passwd|secret|token|credential|connection|url|private_key', re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r'[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@', re.IGNORECASE)
_MAX_DEPTH = 20


class _StateError(Exception):
    """A problem with the inputs or the file; the message says what and how to fix it."""


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec='milliseconds')


def _parse_time(value, what):
    """An ISO 8601 time (naive = UTC, 'Z' accepted) as an aware datetime; _StateError naming what otherwise."""
    text = str(value).strip()
    if text.endswith(('Z', 'z')):
        text = text[:-1] + '+00:00'
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise _StateError('%s: %r is not an ISO 8601 time; give it like 2026-11-23T01:38:40+00:00 (UTC) or leave it '
                          'out to use the current time' % (what, value)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def _seconds_between(start, end):
    if not start or not end:
        return None
    try:
        return round((_parse_time(end, 'finished') - _parse_time(start, 'started')).total_seconds(), 3)
    except _StateError:
        return None


def _check_no_secrets(value, where, depth=0):
    """Refuse keys named like secrets and strings holding URL credentials, anywhere in value."""
    if depth > _MAX_DEPTH:
        raise _StateError('%s is nested more than %d levels deep; record a flatter summary' % (where, _MAX_DEPTH))
    if isinstance(value, dict):
        for key, item in value.items():
            if _SECRET_KEY.search(str(key)):
                raise _StateError(
                    '%s has a key %r named like a secret or a connection URL: the state file and the report must never '
                    'hold secrets. Leave it out, or record a name (for example the database name) under another key.'
                    % (where, key))
            _check_no_secrets(item, '%s.%s' % (where, key), depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_no_secrets(item, '%s[%d]' % (where, index), depth + 1)
    elif isinstance(value, str) and _URL_CREDENTIALS.search(value):
        raise _StateError('%s holds a URL with credentials (scheme://user:password@...): the state file and the report '
                          'must never hold secrets. Record the host or database name instead.' % where)


def _new_phase():
    return dict(status=None, started=None, finished=None, seconds=None, attempts=0, message='', details={})


def _new_document(upgrade, now):
    return dict(
        schema=SCHEMA,
        id='%s-to-%s' % (upgrade['from_release'], upgrade['to_release']),
        from_release=upgrade['from_release'],
        to_release=upgrade['to_release'],
        from_version=upgrade['from_version'] or '',
        to_version=upgrade['to_version'] or '',
        status='running',
        started=_iso(now),
        finished=None,
        runs=[],
        phases={},
        events=[],
    )


def _read(path):
    """(exists, document, text) of the state file; _StateError when it is not a state document we can use."""
    if not os.path.exists(path):
        return False, {}, None
    if os.path.isdir(path):
        raise _StateError('path %s is a directory; give the state file, for example %s/nova-upgrade.json'
                          % (path, path.rstrip('/')))
    try:
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _StateError('cannot read the upgrade state file %s: %s' % (path, exc)) from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise _StateError('%s is not valid JSON (%s): it is not an upgrade state file this module wrote. Move it away '
                          '(it may be kept for the record) and run again to start a new state.' % (path, exc)) from None
    if not isinstance(document, dict) or not isinstance(document.get('schema'), int):
        raise _StateError('%s is JSON but not an upgrade state document (no integer "schema" key). Move it away and run '
                          'again to start a new state.' % path)
    if document['schema'] > SCHEMA:
        raise _StateError('%s has schema %s, newer than this module understands (%s): use the version of '
                          'rolling.openstack that wrote it.' % (path, document['schema'], SCHEMA))
    for key, default in (('runs', []), ('phases', {}), ('events', []), ('status', 'running'), ('finished', None)):
        document.setdefault(key, default)
    return True, document, text


def _unfinished_where(document):
    """'phase roll failed' or similar, for the message about an unfinished upgrade."""
    phases = document.get('phases') or {}
    for name in reversed(PHASES):
        record = phases.get(name) or {}
        if record.get('status') in ('failed', 'running', 'incomplete'):
            return 'phase %s %s' % (name, record['status'])
    done = [name for name in PHASES if (phases.get(name) or {}).get('status') in ('done', 'skipped')]
    if done:
        return 'status %s, last phase finished: %s' % (document.get('status'), done[-1])
    return 'status %s, no phase recorded' % document.get('status')


def _archive_path(path, document):
    base = path[:-len('.json')] if path.endswith('.json') else path
    stamp = document.get('finished') or document.get('started') or ''
    try:
        stamp = _parse_time(stamp, 'finished').strftime('%Y%m%dT%H%M%SZ')
    except _StateError:
        stamp = re.sub(r'[^0-9A-Za-z]', '', str(stamp)) or 'unknown'
    name = '%s.%s.%s.json' % (base, re.sub(r'[^0-9A-Za-z._-]', '_', str(document.get('id') or 'upgrade')), stamp)
    candidate, counter = name, 1
    while os.path.exists(candidate) and counter < 100:  # bounded: a 100th archive of the same id and second is absurd
        counter += 1
        candidate = '%s.%d.json' % (name[:-len('.json')], counter)
    return candidate


def _open_upgrade(params, exists, document, now, result):
    """Apply O(upgrade): create, resume, or archive and start a new document. Returns the document."""
    upgrade = params['upgrade']
    for key in ('from_release', 'to_release'):
        if not str(upgrade.get(key) or '').strip():
            raise _StateError('upgrade.%s is empty: give the release, for example 2026.2' % key)
    if not exists:
        return _new_document(upgrade, now)
    if str(document.get('to_release')) == str(upgrade['to_release']) and not (
            upgrade.get('reopen') and document.get('status') == 'done'):
        result['resumed'] = document.get('status') != 'done'
        for key in ('from_version', 'to_version'):
            if not document.get(key) and upgrade.get(key):
                document[key] = upgrade[key]
        return document
    if document.get('status') != 'done' and str(document.get('to_release')) != str(upgrade['to_release']):
        raise _StateError(
            'an upgrade %s is unfinished (%s); finish it first (re-run with nova_upgrade_target_release=%s) or move %s '
            'away to start over' % (document.get('id'), _unfinished_where(document), document.get('to_release'),
                                    params['path']))
    result['archived'] = _archive_path(params['path'], document)
    return _new_document(upgrade, now)


def _update_phase(params, document, now, result):
    phase = params['phase']
    phases = document.setdefault('phases', {})
    before = phases.get(phase)
    result['phase_before'] = copy.deepcopy(before) if before else {}
    status = params['status']
    if status is None and params['msg'] is None and not params['details']:
        return  # the phase only names the events' phase
    if before is None and status is None:
        raise _StateError('phase %s has no record yet: give status (running, done, failed, skipped or incomplete) with msg '
                          'or details' % phase)
    record = phases.setdefault(phase, _new_phase())
    for key, default in _new_phase().items():
        record.setdefault(key, default)
    if status == 'running':
        record.update(status='running', started=_iso(now), finished=None, seconds=None,
                      attempts=int(record.get('attempts') or 0) + 1, message=params['msg'] or '')
    elif status is not None:
        if params.get('started'):
            # a phase recorded at its end only (the preflight): this attempt began at the given time
            record.update(started=_iso(_parse_time(params['started'], 'started')),
                          attempts=int(record.get('attempts') or 0) + 1)
        if not record.get('started') and status != 'skipped':
            record['started'] = _iso(now)
        record.update(status=status, finished=_iso(now))
        record['seconds'] = _seconds_between(record.get('started'), record['finished'])
    if status != 'running' and params['msg'] is not None:
        record['message'] = params['msg']
    if params['details']:
        if not isinstance(record.get('details'), dict):
            record['details'] = {}
        record['details'].update(copy.deepcopy(params['details']))


def _normal_event(event, index, default_phase, now):
    if not isinstance(event, dict):
        raise _StateError('events[%d] is %r, not a dict with keys such as host, service, event, from, to' % (index, event))
    out = dict((key, '') for key in EVENT_KEYS)
    out['seconds'] = None
    out.update(copy.deepcopy(event))
    out['time'] = _iso(_parse_time(event['time'], 'events[%d].time' % index)) if event.get('time') else _iso(now)
    if not out.get('phase'):
        out['phase'] = default_phase or ''
    if out['phase'] and out['phase'] not in PHASES:
        raise _StateError('events[%d].phase is %r: use one of %s' % (index, out['phase'], ', '.join(PHASES)))
    if out['seconds'] is not None:
        try:
            out['seconds'] = round(float(out['seconds']), 3)
        except (TypeError, ValueError):
            raise _StateError('events[%d].seconds is %r: give a number of seconds or leave it out'
                              % (index, event['seconds'])) from None
        if out['seconds'] < 0:
            raise _StateError('events[%d].seconds is %r: a duration cannot be negative' % (index, event['seconds']))
    for key in ('phase', 'host', 'service', 'event', 'from', 'to', 'message'):
        out[key] = '' if out[key] is None else str(out[key])
    return out


def _start_run(document, now, check_mode):
    for run in document.setdefault('runs', []):
        if run.get('status') == 'running':
            run['status'] = 'interrupted'
    document['runs'].append(dict(started=_iso(now), finished=None, status='running', check_mode=bool(check_mode)))
    if document.get('status') == 'failed':
        document.update(status='running', finished=None)


def _finish(document, status, now):
    document['status'] = status
    document['finished'] = None if status == 'running' else _iso(now)
    runs = document.get('runs') or []
    if runs and runs[-1].get('status') == 'running' and status != 'running':
        runs[-1].update(status=status, finished=_iso(now))


def _dump(document):
    return json.dumps(document, indent=2, sort_keys=False) + '\n'


def _write(path, text, module):
    """Write text to path atomically (temp file + rename), mode 0640, keeping the owner of the file it replaces."""
    parent = os.path.dirname(path) or '.'
    if not os.path.isdir(parent):
        os.makedirs(parent, DIR_MODE)
        os.chmod(parent, DIR_MODE)
    previous = None
    try:
        previous = os.stat(path)
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=parent)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        if previous is not None and (previous.st_uid, previous.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(tmp, previous.st_uid, previous.st_gid)
            except PermissionError:
                module.warn('could not keep the owner %d:%d of %s (not running as root); it is now owned by the user '
                            'running the module' % (previous.st_uid, previous.st_gid, path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _run(module):
    params = module.params
    path = params['path']
    result = dict(changed=False, state_file=path, exists=False, resumed=False, archived='', phase_before={}, state={})
    if params['phase'] is None:
        for name in ('status', 'msg', 'details'):
            if params[name] is not None:
                raise _StateError('%s needs phase: give the phase it belongs to (one of %s)' % (name, ', '.join(PHASES)))
    for name in ('details', 'events'):
        if params[name] is not None:
            _check_no_secrets(params[name], name)
    if params['msg'] is not None:
        _check_no_secrets(params['msg'], 'msg')

    exists, document, old_text = _read(path)
    result['exists'] = exists
    writes = any(params[name] is not None for name in ('upgrade', 'phase', 'events', 'finish')) or params['start_run']
    if not writes:
        result['state'] = document
        return result
    now = _now()
    if params['upgrade'] is not None:
        document = _open_upgrade(params, exists, document, now, result)
    elif not exists:
        raise _StateError('there is no upgrade state in %s yet: open the upgrade first with the option upgrade '
                          '(from_release, to_release, ...)' % path)
    if params['start_run']:
        _start_run(document, now, module.check_mode)
    if params['phase'] is not None:
        _update_phase(params, document, now, result)
    if params['events']:
        events = document.setdefault('events', [])
        events.extend(_normal_event(event, index, params['phase'], now) for index, event in enumerate(params['events']))
    if params['finish'] is not None:
        _finish(document, params['finish'], now)

    new_text = _dump(document)
    before_text = '' if result['archived'] else (old_text or '')
    result['changed'] = new_text != before_text
    result['state'] = document
    if module._diff:
        result['diff'] = dict(before=before_text, after=new_text, before_header=path, after_header=path)
    if result['changed'] and not module.check_mode:
        if result['archived']:
            os.rename(path, result['archived'])
        _write(path, new_text, module)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            upgrade=dict(type='dict', options=dict(
                from_release=dict(type='str', required=True),
                to_release=dict(type='str', required=True),
                from_version=dict(type='str', default=''),
                to_version=dict(type='str', default=''),
                reopen=dict(type='bool', default=False),
            )),
            start_run=dict(type='bool', default=False),
            started=dict(type='str'),
            phase=dict(type='str', choices=list(PHASES)),
            status=dict(type='str', choices=list(PHASE_STATUSES)),
            msg=dict(type='str'),
            details=dict(type='dict'),
            events=dict(type='list', elements='dict'),
            finish=dict(type='str', choices=list(UPGRADE_STATUSES)),
        ),
        supports_check_mode=True,
    )
    try:
        result = _run(module)
    except _StateError as exc:
        module.fail_json(msg=str(exc), state_file=module.params['path'])
    except OSError as exc:
        module.fail_json(msg='cannot write the upgrade state file %s: %s' % (module.params['path'], exc),
                         state_file=module.params['path'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
